"""What every route depends on: the ingest context, the API key check and body reading."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from newsflow_ingest.articles import Limits
from newsflow_ingest.batch import Outcome
from newsflow_ingest.metrics import Metrics
from newsflow_ingest.normaliser import Normaliser
from newsflow_ingest.producer import Delivery, EventPublisher, KafkaUnavailableError, Record
from newsflow_ingest.revisions import RecentRevisions
from newsflow_ingest.settings import Settings
from newsflow_schema import ArticleRawEvent, encode, encode_headers, logs, topics
from newsflow_schema.http import ProblemError

log = logging.getLogger(__name__)

# Stateless request parsers, module-level so FastAPI can resolve them from annotations.
API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False)
BEARER = HTTPBearer(auto_error=False)


@dataclass(frozen=True, slots=True)
class IngestContext:
    """The parts of one ingest app the routes use; built once by `build_app`."""

    settings: Settings
    metrics: Metrics
    publisher: EventPublisher
    revisions: RecentRevisions
    normaliser: Normaliser

    def limits(self) -> Limits:
        return Limits(
            max_text_chars=self.settings.max_text_chars,
            max_future=timedelta(seconds=self.settings.max_future_s),
            now=datetime.now(UTC),
        )

    def location(self, article_id: str) -> str:
        """Where the read API serves the article."""
        return f"{self.settings.read_api_base_url.rstrip('/')}/v1/articles/{article_id}"


# The dependencies are coroutines although they never wait: FastAPI runs a plain function
# dependency in a thread, two thread hand-offs per request for nothing.
async def ingest_context(request: Request) -> IngestContext:
    context = request.app.state.ingest
    assert isinstance(context, IngestContext)
    return context


Context = Annotated[IngestContext, Depends(ingest_context)]


async def require_api_key(
    context: Context,
    x_api_key: Annotated[str | None, Depends(API_KEY_HEADER)],
    authorization: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> None:
    keys = context.settings.api_keys
    if not keys:
        return
    supplied = x_api_key or (authorization.credentials if authorization else None)
    if supplied and any(hmac.compare_digest(supplied.encode(), key.encode()) for key in keys):
        return
    raise ProblemError(
        401,
        "a valid API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key'",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _media_type(request: Request) -> tuple[str, str | None]:
    raw = request.headers.get("content-type", "")
    media, _, params = raw.partition(";")
    charset: str | None = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media.strip().lower(), charset


def require_media_type(request: Request, allowed: Sequence[str]) -> str:
    """The request's media type when it is one of `allowed` (UTF-8), else a 415 problem."""
    media, charset = _media_type(request)
    if media not in allowed:
        shown = media or "none"
        raise ProblemError(
            415,
            f"Content-Type {shown!r} is not supported here; send {' or '.join(allowed)}",
            headers={"Accept-Post": ", ".join(allowed)},
        )
    if charset not in (None, "utf-8", "utf8"):
        raise ProblemError(415, f"charset {charset!r} is not supported; send UTF-8")
    return media


def _too_large(detail: str) -> ProblemError:
    return ProblemError(413, detail, slug="too-large")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing it as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise ProblemError(400, "Content-Length is not a number") from None
        if size > limit:
            raise _too_large(f"the body is {size} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    received = 0
    # Chunked bodies have no Content-Length: count while streaming and stop at the limit.
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise _too_large(f"the body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _record(context: IngestContext, event: ArticleRawEvent, request: Request) -> Record:
    headers = encode_headers(
        event,
        source=context.settings.ce_source,
        subject=str(event.article_id),
        # Set per request by TraceMiddleware: the caller's trace, continued with our span.
        traceparent=getattr(request.state, "traceparent", None),
    )
    return Record(key=str(event.article_id).encode(), value=encode(event), headers=headers)


async def publish(
    context: IngestContext, events: Sequence[ArticleRawEvent], request: Request, endpoint: str
) -> list[Outcome]:
    """Hand the events to Kafka and wait for each acknowledgement (bounded).

    Raises KafkaUnavailableError (answered 503) when no producer is connected; remembers
    every acknowledged revision so that an identical re-post is answered "unchanged".
    """
    if not context.publisher.connected:
        context.metrics.rejected.labels("unavailable").inc(len(events))
        raise KafkaUnavailableError(_retry_detail("Kafka is not reachable"))
    started = time.perf_counter()
    records = [_record(context, event, request) for event in events]
    try:
        outcomes = await context.publisher.publish_many(topics.RAW, records)
    except KafkaUnavailableError as exc:
        # The producer went away between the check above and the send.
        context.metrics.rejected.labels("unavailable").inc(len(events))
        raise KafkaUnavailableError(_retry_detail(exc.detail)) from None
    context.metrics.publish_seconds.labels(endpoint).observe(time.perf_counter() - started)
    for event, outcome in zip(events, outcomes, strict=True):
        _count(context, event, outcome)
    return outcomes


def _count(context: IngestContext, event: ArticleRawEvent, outcome: Outcome) -> None:
    if isinstance(outcome, Delivery):
        context.metrics.accepted.inc()
        context.revisions.remember(event, outcome)
        placed = {"topic": outcome.topic, "partition": outcome.partition, "offset": outcome.offset}
        with logs.context(article_id=str(event.article_id)):
            log.info("article accepted", extra=placed)
    elif isinstance(outcome, KafkaUnavailableError):
        context.metrics.rejected.labels("unavailable").inc()
    else:
        context.metrics.rejected.labels("too_large").inc()


def _retry_detail(detail: str) -> str:
    return (
        f"{detail}; the article was not acknowledged, retry later (re-posting is safe: "
        "the id stays the same)"
    )


def unacknowledged(outcome: KafkaUnavailableError) -> KafkaUnavailableError:
    """The error to raise for one record Kafka did not acknowledge (answered 503)."""
    return KafkaUnavailableError(_retry_detail(outcome.detail))
