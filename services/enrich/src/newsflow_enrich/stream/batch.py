"""The batch handler: consumed records + ports (store, analyser, dead letters, clock) → outcome.

No Kafka and no PostgreSQL here: the consumer loop hands records in and commits what the
outcome says; everything between (decode, NLP, isolation of a failing record, attempts,
the store write, failure rows, dead letters) is decided here, against small Protocols.

Every record ends as enriched (stored), unchanged (a redelivery), or failed (an
`article_failures` row, then a dead letter, in that order) — within `max_attempts` tries —
and only then is its offset committed. An outage of PostgreSQL or Kafka is not the
record's fault: the outcome is `Retry`, nothing is committed, and the attempts and
analyses made so far are kept for the refetch.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from newsflow_enrich.errors import Rejected
from newsflow_enrich.nlp import Analysis, Document
from newsflow_enrich.nlp.workers import (
    NlpBudgetExceeded,
    NlpFailure,
    NlpUnavailable,
    NlpWorkerDied,
    Outcome,
)
from newsflow_enrich.pipeline import (
    EnrichedArticle,
    EventLimits,
    Failure,
    OversizedRecordError,
    RecordRef,
    Versions,
    WriteResult,
    check_size,
    document_for,
    enrich_article,
    needs_enrichment,
    traceparent_of,
)
from newsflow_schema import ArticleRawEvent, DecodeError, decode
from newsflow_schema.http import ServiceUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
Key = tuple[str, str]
TopicPartitionKey = tuple[str, int]


# --- what goes in and out ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BuiltArticle:
    """An enriched article and the record it came from."""

    ref: RecordRef
    article: EnrichedArticle


@dataclass(frozen=True, slots=True)
class Prepared:
    """A batch past NLP: what the second half needs to write and fail it."""

    records: list[RecordRef]
    good: int
    todo: list[_Good]
    analyses: dict[Key, Analysis]
    failed: list[Failure]


@dataclass(frozen=True, slots=True)
class Done:
    """The batch reached its end states: commit `commit` (next offset per partition)."""

    items: list[BuiltArticle]
    written: list[uuid.UUID]
    unchanged: int
    failed: list[Failure]
    commit: dict[TopicPartitionKey, int]


@dataclass(frozen=True, slots=True)
class Retry:
    """An outage at `stage`: seek back, commit nothing, try the same records later."""

    stage: str
    error: BaseException


@dataclass(frozen=True, slots=True)
class Limits:
    max_attempts: int = 3
    max_record_bytes: int = 2_000_000
    event: EventLimits = EventLimits()
    source: str = "/newsflow/enrich"


# --- the ports ----------------------------------------------------------------------------


class Store(Protocol):
    """PostgreSQL as the batch sees it; raises ServiceUnavailable or Rejected only."""

    async def versions(self, raws: Sequence[ArticleRawEvent]) -> Versions: ...

    async def write(self, items: Sequence[EnrichedArticle]) -> WriteResult: ...

    async def fail(self, failures: Sequence[Failure]) -> None: ...


class Analyser(Protocol):
    """The NLP runner; raises NlpWorkerDied, NlpBudgetExceeded or NlpUnavailable."""

    async def enrich(self, docs: Sequence[Document]) -> list[Outcome]: ...


class DeadLetters(Protocol):
    """The DLQ; raises ServiceUnavailable only."""

    async def send(self, failures: Sequence[Failure]) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


# --- the handler ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Good:
    ref: RecordRef
    raw: ArticleRawEvent

    @property
    def key(self) -> Key:
        return (str(self.raw.event_id), self.raw.content_hash)


class _Outage(Exception):  # noqa: N818 - control flow inside the handler, never escapes
    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(stage)
        self.stage = stage
        self.error = error


def decode_records(
    records: Iterable[RecordRef], max_bytes: int
) -> tuple[list[_Good], list[Failure]]:
    """Split records into raw events and poison (too large, undecodable, schema-invalid)."""
    good: list[_Good] = []
    poison: list[Failure] = []
    for ref in records:
        try:
            check_size(ref, max_bytes)
            good.append(_Good(ref, decode(ArticleRawEvent, ref.value)))
        except OversizedRecordError as exc:
            poison.append(
                Failure(ref, "record-too-large", "decode", str(exc), error_class=type(exc).__name__)
            )
        except DecodeError as exc:
            reason = "schema-invalid" if exc.error_class == "ValidationError" else "undecodable"
            poison.append(Failure(ref, reason, "decode", str(exc), error_class=exc.error_class))
    return good, poison


def next_offsets(records: Iterable[RecordRef]) -> dict[TopicPartitionKey, int]:
    """The offset to commit per partition: one past the last record of the batch."""
    offsets: dict[TopicPartitionKey, int] = {}
    for ref in records:
        tp = (ref.topic, ref.partition)
        offsets[tp] = max(offsets.get(tp, 0), ref.offset + 1)
    return offsets


def split_by_size(
    records: Sequence[RecordRef], max_bytes: int
) -> tuple[list[RecordRef], list[RecordRef]]:
    """The longest prefix within `max_bytes` of values (at least one record), and the rest.

    Bytes bound characters from above, so a batch within it holds at most that much text.
    """
    total = 0
    for i, ref in enumerate(records):
        total += len(ref.value or b"")
        if total > max_bytes and i > 0:
            return list(records[:i]), list(records[i:])
    return list(records), []


def offsets_to_commit(
    commit: dict[TopicPartitionKey, int], assigned: Iterable[TopicPartitionKey]
) -> dict[TopicPartitionKey, int]:
    """Only partitions still ours: a partition revoked mid-batch is its new owner's to redo."""
    owned = set(assigned)
    return {tp: offset for tp, offset in commit.items() if tp in owned}


class BatchHandler:
    """Turns one fetched batch into its end states (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        analyser: Analyser,
        dead_letters: DeadLetters,
        clock: Clock,
        limits: Limits,
    ) -> None:
        self._store = store
        self._analyser = analyser
        self._dead_letters = dead_letters
        self._clock = clock
        self._limits = limits
        # Kept across a Retry (the same records come back after the seek), cleared on Done.
        self._analyses: dict[Key, Analysis] = {}
        self._attempts: dict[Key, int] = {}
        self._decided: dict[Key, Failure] = {}

    async def handle(self, records: Sequence[RecordRef]) -> Done | Retry:
        """Both halves at once: prepare, then finish."""
        prepared = await self.prepare(records)
        if isinstance(prepared, Retry):
            return prepared
        return await self.finish(prepared)

    async def prepare(self, records: Sequence[RecordRef]) -> Prepared | Retry:
        """The first half: decode, look up stored versions, NLP (with isolation)."""
        try:
            good, failed = decode_records(records, self._limits.max_record_bytes)
            versions = await self._call("database", self._store.versions([g.raw for g in good]))
            todo = [
                g
                for g in good
                if g.raw.event_id not in versions.failed
                and needs_enrichment(g.raw, versions.stored.get(g.raw.article_id))
            ]
            analyses, nlp_failed = await self._analyse(todo)
        except _Outage as outage:
            return Retry(outage.stage, outage.error)
        return Prepared(list(records), len(good), todo, analyses, [*failed, *nlp_failed])

    async def finish(self, prepared: Prepared) -> Done | Retry:
        """The second half: build the events, write, store failures, dead-letter."""
        try:
            items, too_large = self._build(prepared.todo, prepared.analyses)
            result, rejected = await self._write(items)
            failed = [*prepared.failed, *too_large, *rejected]
            await self._fail(failed)
        except _Outage as outage:
            return Retry(outage.stage, outage.error)
        # What was kept for a refetch of these records is not needed any more; other
        # batches' entries stay (a later batch may be half done).
        for g in prepared.todo:
            self._analyses.pop(g.key, None)
            self._attempts.pop(g.key, None)
            self._decided.pop(g.key, None)
        return Done(
            items=items,
            written=result.written,
            unchanged=prepared.good - len(prepared.todo) + len(result.unchanged),
            failed=failed,
            commit=next_offsets(prepared.records),
        )

    async def _call(self, stage: str, work: Awaitable[T]) -> T:
        try:
            return await work
        except (ServiceUnavailable, NlpUnavailable) as exc:
            raise _Outage(stage, exc) from exc

    # --- NLP ------------------------------------------------------------------------------

    async def _analyse(self, todo: list[_Good]) -> tuple[dict[Key, Analysis], list[Failure]]:
        failed: list[Failure] = []
        pending = [g for g in todo if g.key not in self._analyses and g.key not in self._decided]
        if len(pending) > 1:
            try:
                outcomes = await self._call(
                    "nlp", self._analyser.enrich([document_for(g.raw) for g in pending])
                )
            except (NlpWorkerDied, NlpBudgetExceeded) as exc:
                log.warning("NLP failed on a batch of %d, isolating: %s", len(pending), exc)
            else:
                for g, outcome in zip(pending, outcomes, strict=True):
                    if isinstance(outcome, Analysis):
                        self._analyses[g.key] = outcome
        for g in pending:
            if g.key not in self._analyses:
                await self._analyse_alone(g)
        analyses: dict[Key, Analysis] = {}
        for g in todo:
            if g.key in self._decided:
                failed.append(self._decided[g.key])
            elif g.key in self._analyses:
                analyses[g.key] = self._analyses[g.key]
        return analyses, failed

    async def _analyse_alone(self, g: _Good) -> None:
        """Retry one record on its own until it succeeds or its attempts run out."""
        doc = document_for(g.raw)
        while self._attempts.get(g.key, 0) < self._limits.max_attempts:
            try:
                outcome = (await self._call("nlp", self._analyser.enrich([doc])))[0]
            except NlpWorkerDied as exc:
                self._fail_nlp(g, "nlp-worker-died", str(exc))
                continue
            except NlpBudgetExceeded as exc:
                # Over budget: once more without quotes and stance, the costly part.
                self._fail_nlp(g, "nlp-budget", str(exc))
                await self._analyse_degraded(g, doc, str(exc))
                return
            if isinstance(outcome, Analysis):
                self._analyses[g.key] = outcome
                self._decided.pop(g.key, None)
                return
            self._fail_nlp(g, "nlp-error", outcome.message, error_class=outcome.error_class)
        if g.key not in self._decided:
            # Attempts used up by earlier passes (cut short by an outage) decide it now.
            self._fail_nlp(g, "nlp-error", "no analysis within the attempts allowed", count=False)

    async def _analyse_degraded(self, g: _Good, doc: Document, why: str) -> None:
        try:
            outcome = (
                await self._call(
                    "nlp", self._analyser.enrich([dataclasses.replace(doc, degraded=True)])
                )
            )[0]
        except (NlpWorkerDied, NlpBudgetExceeded) as exc:
            self._fail_nlp(g, "nlp-budget", f"{why}; in degraded mode: {exc}")
            return
        if isinstance(outcome, Analysis):
            self._analyses[g.key] = outcome
            self._decided.pop(g.key, None)
            return
        self._fail_nlp(g, "nlp-budget", f"{why}; in degraded mode: {_failure_text(outcome)}")

    def _fail_nlp(
        self, g: _Good, reason: str, detail: str, *, count: bool = True, error_class: str = ""
    ) -> None:
        if count:
            self._attempts[g.key] = self._attempts.get(g.key, 0) + 1
        attempts = self._attempts.get(g.key, 1)
        log.warning(
            "NLP attempt %d on %s failed: %s: %s", attempts, g.raw.article_id, reason, detail
        )
        self._decided[g.key] = Failure(
            g.ref, reason, "nlp", detail, attempts, g.raw, error_class or _ERROR_CLASSES[reason]
        )

    # --- events and writes ---------------------------------------------------------------

    def _build(
        self, todo: list[_Good], analyses: dict[Key, Analysis]
    ) -> tuple[list[BuiltArticle], list[Failure]]:
        items: list[BuiltArticle] = []
        failed: list[Failure] = []
        now = self._clock.now()
        limit = self._limits.event.max_event_bytes
        for g in todo:
            analysis = analyses.get(g.key)
            if analysis is None:
                continue
            item = enrich_article(
                g.raw,
                analysis,
                enriched_at=now,
                source=self._limits.source,
                traceparent=traceparent_of(g.ref.headers),
                limits=self._limits.event,
            )
            size = len(item.message.payload)
            if size > limit:
                detail = f"the enriched event is {size} bytes, over the {limit}-byte limit"
                failed.append(
                    Failure(
                        g.ref, "event-too-large", "publish", detail, 1, g.raw, "EventTooLargeError"
                    )
                )
                continue
            items.append(BuiltArticle(g.ref, item))
        return items, failed

    async def _write(self, items: list[BuiltArticle]) -> tuple[WriteResult, list[Failure]]:
        if not items:
            return WriteResult(), []
        try:
            return await self._call("database", self._store.write([i.article for i in items])), []
        except Rejected as exc:
            if len(items) == 1:
                return WriteResult(), [self._rejected(items[0], exc)]
            log.warning(
                "PostgreSQL refused a batch of %d, writing one by one: %s", len(items), exc.detail
            )
        result = WriteResult()
        failed: list[Failure] = []
        for item in items:
            try:
                one = await self._call("database", self._store.write([item.article]))
            except Rejected as exc:
                failed.append(self._rejected(item, exc))
                continue
            result.written.extend(one.written)
            result.unchanged.extend(one.unchanged)
        return result, failed

    def _rejected(self, item: BuiltArticle, exc: Rejected) -> Failure:
        return Failure(
            item.ref,
            "db-rejected",
            "database",
            exc.detail,
            1,
            item.article.raw,
            error_class="RejectedByDatabaseError",
        )

    async def _fail(self, failed: list[Failure]) -> None:
        """The failure rows first, then the dead letters: a crash between them redoes both."""
        if not failed:
            return
        try:
            await self._call("database", self._store.fail(failed))
        except Rejected as exc:
            # The row is NUL-free and bounded; if PostgreSQL still refuses it, the dead
            # letter remains the record's end state.
            log.error("failure rows refused by PostgreSQL, dead-lettering only: %s", exc.detail)
        await self._call("dlq", self._dead_letters.send(failed))


_ERROR_CLASSES = {
    "nlp-worker-died": "NlpWorkerDied",
    "nlp-budget": "NlpBudgetExceeded",
    "nlp-error": "NlpError",
}


def _failure_text(outcome: NlpFailure | Analysis) -> str:
    if isinstance(outcome, NlpFailure):
        return f"{outcome.error_class}: {outcome.message}"
    return "no analysis"
