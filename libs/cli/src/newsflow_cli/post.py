"""Sending articles through ingest's batch endpoint: chunks, retries, per-item outcomes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from newsflow_cli.files import Invalid, Item
from newsflow_cli.settings import Settings

BATCH_PATH = "/v1/articles:batch"
# Ingest refuses batch bodies over 8 MiB by default; stay well under it.
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
MAX_RETRY_AFTER_S = 30.0


class PostAborted(RuntimeError):
    """Nothing more can be sent: ingest is unreachable or refuses the credentials."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What ingest answered for one item."""

    origin: str
    status: int
    article_id: str | None = None
    event_id: str | None = None
    reason: str | None = None
    # Ingest already had this very revision: it published nothing (`duplicate: true`).
    unchanged: bool = False

    @property
    def accepted(self) -> bool:
        return self.status == 202


@dataclass(frozen=True, slots=True)
class Duplicate:
    origin: str
    article_id: str
    first: str = field(metadata={"doc": "origin of the earlier item with the same id"})


@dataclass(slots=True)
class Report:
    """The summary of one `newsflow post` run."""

    accepted: list[Outcome] = field(default_factory=list)
    rejected: list[Invalid] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    known: list[Outcome] = field(default_factory=list)
    known_checked: bool = False

    @property
    def ok(self) -> bool:
        return not self.rejected


def payload_size(item: Item) -> int:
    return len(json.dumps(item.payload, ensure_ascii=False).encode()) + 1


def chunks(items: Sequence[Item], max_items: int, max_bytes: int) -> list[list[Item]]:
    """Consecutive chunks of at most `max_items` items and (when possible) `max_bytes` bytes."""
    out: list[list[Item]] = []
    current: list[Item] = []
    size = 2
    for item in items:
        item_size = payload_size(item)
        if current and (len(current) >= max_items or size + item_size > max_bytes):
            out.append(current)
            current, size = [], 2
        current.append(item)
        size += item_size
    if current:
        out.append(current)
    return out


def _problem_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    if isinstance(body, dict) and body.get("detail"):
        return f"HTTP {response.status_code}: {body['detail']}"
    return f"HTTP {response.status_code}"


def _retry_after(response: httpx.Response | None, attempt: int) -> float:
    backoff: float = min(MAX_RETRY_AFTER_S, 0.5 * 2.0**attempt)
    if response is None:
        return backoff
    try:
        told = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return backoff
    return min(MAX_RETRY_AFTER_S, max(0.0, told))


def item_reason(result: dict[str, Any]) -> str:
    """One line a person can act on, from a batch item result."""
    errors = result.get("errors") or []
    parts = [
        f"{e.get('field', '?')}: {e.get('message', '')}" if isinstance(e, dict) else str(e)
        for e in errors
    ]
    detail = result.get("detail") or f"status {result.get('status')}"
    return f"{detail} ({'; '.join(parts)})" if parts else str(detail)


class BatchSender:
    """Posts chunks to ingest; retries 503s and transport errors, splits what is too large."""

    def __init__(
        self,
        client: httpx.Client,
        settings: Settings,
        *,
        retries: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._url = settings.ingest_url.rstrip("/") + BATCH_PATH
        self._headers = {"Content-Type": "application/json", **settings.auth_headers()}
        self._retries = retries
        self._sleep = sleep

    def send(self, chunk: Sequence[Item]) -> list[Outcome]:
        """The outcome of every item of `chunk`, in order."""
        outcomes: dict[int, Outcome] = {}
        pending = list(range(len(chunk)))
        attempt = 0
        while pending:
            response = self._post([chunk[i].payload for i in pending])
            status = response.status_code
            if status == 401:
                raise PostAborted(f"ingest refused the API key: {_problem_detail(response)}")
            if status == 413 and len(pending) > 1:
                # Too many items or too many bytes for this server's limits: halve.
                half = len(pending) // 2
                for part in (pending[:half], pending[half:]):
                    for index, outcome in zip(
                        part, self.send([chunk[i] for i in part]), strict=True
                    ):
                        outcomes[index] = outcome
                return [outcomes[i] for i in range(len(chunk))]
            results = _results(response)
            if results is None:
                if status == 503 and attempt < self._retries:
                    self._sleep(_retry_after(response, attempt))
                    attempt += 1
                    continue
                reason = _problem_detail(response)
                for index in pending:
                    outcomes[index] = Outcome(chunk[index].origin, status, reason=reason)
                break
            retry: list[int] = []
            for position, result in enumerate(results):
                index = pending[position]
                if result.get("status") == 503 and attempt < self._retries:
                    retry.append(index)
                    continue
                outcomes[index] = Outcome(
                    origin=chunk[index].origin,
                    status=int(result.get("status") or status),
                    article_id=result.get("id"),
                    event_id=result.get("event_id"),
                    reason=None if result.get("status") == 202 else item_reason(result),
                    unchanged=result.get("duplicate") is True,
                )
            pending = retry
            if pending:
                self._sleep(_retry_after(response, attempt))
                attempt += 1
        return [outcomes[i] for i in range(len(chunk))]

    def _post(self, payloads: list[dict[str, Any]]) -> httpx.Response:
        body = json.dumps(payloads, ensure_ascii=False).encode()
        attempt = 0
        while True:
            try:
                return self._client.post(self._url, content=body, headers=self._headers)
            except httpx.TransportError as exc:
                if attempt >= self._retries:
                    raise PostAborted(f"cannot reach ingest at {self._url}: {exc!r}") from exc
                self._sleep(_retry_after(None, attempt))
                attempt += 1


def _results(response: httpx.Response) -> list[dict[str, Any]] | None:
    """The per-item results of a batch answer (202, 207, or a 422/503 problem carrying them)."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        return None
    results: list[dict[str, Any]] = body["results"]
    return results


def find_duplicates(outcomes: Iterable[Outcome]) -> list[Duplicate]:
    """Accepted items whose article id an earlier item of this run already had."""
    first: dict[str, str] = {}
    duplicates: list[Duplicate] = []
    for outcome in outcomes:
        if not outcome.accepted or outcome.article_id is None:
            continue
        if outcome.article_id in first:
            duplicates.append(
                Duplicate(outcome.origin, outcome.article_id, first[outcome.article_id])
            )
        else:
            first[outcome.article_id] = outcome.origin
    return duplicates


def find_known(
    client: httpx.Client, settings: Settings, outcomes: Iterable[Outcome]
) -> list[Outcome]:
    """Accepted articles the read API already held before this run.

    Ingest says so itself for a revision it already published (`duplicate: true`). Else the
    stored article keeps the raw event id it was enriched from: one other than the event
    this run just published means the article was known before (enrich may not have caught
    up with this run, or skipped it because the content is unchanged).
    """
    base = settings.read_url.rstrip("/")
    known: list[Outcome] = []
    checked: set[str] = set()
    for outcome in outcomes:
        if not outcome.accepted or outcome.article_id is None or outcome.article_id in checked:
            continue
        checked.add(outcome.article_id)
        if outcome.unchanged:
            known.append(outcome)
            continue
        response = client.get(f"{base}/v1/articles/{outcome.article_id}")
        if response.status_code == 404:
            continue
        response.raise_for_status()
        if response.json().get("raw_event_id") != outcome.event_id:
            known.append(outcome)
    return known
