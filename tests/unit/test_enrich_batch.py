"""The batch handler with fakes for its ports: every path a record can take to its end state."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

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
    RecordRef,
    StoredVersion,
    Versions,
    WriteResult,
)
from newsflow_enrich.stream.batch import (
    BatchHandler,
    Done,
    Limits,
    Retry,
    next_offsets,
    offsets_to_commit,
    split_by_size,
)
from newsflow_schema import (
    ArticleRawEvent,
    Entity,
    Mention,
    OriginalContent,
    content_hash,
    encode,
    topics,
)
from newsflow_schema.http import DatabaseUnavailable, KafkaUnavailable

pytestmark = pytest.mark.unit

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def raw_event(body: str) -> ArticleRawEvent:
    return ArticleRawEvent(
        article_id=uuid.uuid4(),
        url="https://example.com/a",
        title="A title",
        body=body,
        content_hash=content_hash("A title", body),
        original=OriginalContent(format="text", content=body),
    )


def record(value: bytes | None, offset: int, partition: int = 0) -> RecordRef:
    return RecordRef(topic=topics.RAW, partition=partition, offset=offset, key=b"k", value=value)


def records_of(*bodies: str, partition: int = 0) -> list[RecordRef]:
    return [record(encode(raw_event(b)), i, partition) for i, b in enumerate(bodies)]


# --- fakes -----------------------------------------------------------------------------------


@dataclass
class FakeStore:
    rejects: set[str] = field(default_factory=set)  # bodies containing these are refused
    down: int = 0  # the next `down` calls meet an outage
    stored: dict[uuid.UUID, StoredVersion] = field(default_factory=dict)
    failed_events: set[uuid.UUID] = field(default_factory=set)
    writes: list[list[uuid.UUID]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    def _outage(self) -> None:
        if self.down:
            self.down -= 1
            raise DatabaseUnavailable("PostgreSQL is down")

    async def versions(self, raws: Sequence[ArticleRawEvent]) -> Versions:
        self._outage()
        return Versions(stored=dict(self.stored), failed=frozenset(self.failed_events))

    async def write(self, items: Sequence[EnrichedArticle]) -> WriteResult:
        self._outage()
        if any(word in i.raw.body for i in items for word in self.rejects):
            raise Rejected("db-rejected", "PostgreSQL refused it (SQLSTATE 54000)")
        self.writes.append([i.raw.article_id for i in items])
        for i in items:
            self.stored[i.raw.article_id] = StoredVersion(i.raw.content_hash, i.raw.event_id)
        self.log.append("write")
        return WriteResult(written=[i.raw.article_id for i in items])

    async def fail(self, failures: Sequence[Failure]) -> None:
        self._outage()
        self.failures.extend(failures)
        self.log.append("fail")


@dataclass
class FakeAnalyser:
    """Dies, stalls or raises on documents whose body contains a marker word."""

    kills: set[str] = field(default_factory=set)
    slow: set[str] = field(default_factory=set)
    slow_even_degraded: bool = False
    raises: set[str] = field(default_factory=set)
    unavailable: int = 0
    calls: list[list[str]] = field(default_factory=list)
    entities: tuple[Entity, ...] = ()

    async def enrich(self, docs: Sequence[Document]) -> list[Outcome]:
        self.calls.append([d.key + (" degraded" if d.degraded else "") for d in docs])
        if self.unavailable:
            self.unavailable -= 1
            raise NlpUnavailable("workers failed to start")
        if any(w in d.body for d in docs for w in self.kills):
            raise NlpWorkerDied("an NLP worker died")
        for d in docs:
            if any(w in d.body for w in self.slow) and (self.slow_even_degraded or not d.degraded):
                raise NlpBudgetExceeded("over budget")
        return [
            NlpFailure("MemoryError", "out of memory")
            if any(w in d.body for w in self.raises)
            else Analysis(language="en", entities=self.entities)
            for d in docs
        ]


@dataclass
class FakeDeadLetters:
    store: FakeStore
    down: int = 0
    sent: list[Failure] = field(default_factory=list)

    async def send(self, failures: Sequence[Failure]) -> None:
        if self.down:
            self.down -= 1
            raise KafkaUnavailable("Kafka is down")
        self.sent.extend(failures)
        self.store.log.append("dlq")


class FixedClock:
    def now(self) -> datetime:
        return NOW


@dataclass
class Rig:
    store: FakeStore
    nlp: FakeAnalyser
    dlq: FakeDeadLetters
    handler: BatchHandler


def rig(limits: Limits | None = None, **nlp: object) -> Rig:
    store = FakeStore()
    analyser = FakeAnalyser(**nlp)  # type: ignore[arg-type]
    dlq = FakeDeadLetters(store)
    handler = BatchHandler(store, analyser, dlq, FixedClock(), limits or Limits(max_attempts=3))
    return Rig(store, analyser, dlq, handler)


async def done(r: Rig, records: Sequence[RecordRef]) -> Done:
    outcome = await r.handler.handle(records)
    assert isinstance(outcome, Done), outcome
    return outcome


def reasons(d: Done) -> list[str]:
    return sorted(f.reason for f in d.failed)


# --- paths -------------------------------------------------------------------------------------


async def test_good_records_are_written_in_one_call_and_committed() -> None:
    r = rig()
    refs = records_of("Kyiv was calm.", "Odesa was calm.")
    d = await done(r, refs)
    assert len(d.written) == 2 and d.failed == []
    assert len(r.store.writes) == 1 and len(r.nlp.calls) == 1
    assert d.commit == {(topics.RAW, 0): 2}
    assert r.dlq.sent == [] and r.store.failures == []


async def test_a_redelivery_needs_no_nlp_and_is_unchanged() -> None:
    r = rig()
    refs = records_of("Kyiv was calm.")
    await done(r, refs)
    again = await done(r, refs)
    assert again.unchanged == 1 and again.written == []
    assert len(r.nlp.calls) == 1


async def test_poison_is_failed_at_decode_without_retries() -> None:
    r = rig(Limits(max_record_bytes=5_000))
    refs = [
        record(b"\xff\xfe", 0),
        record(b'{"not": "an event"}', 1),
        record(encode(raw_event("x" * 6_000)), 2),
        *records_of("Kyiv was calm.", partition=1),
    ]
    d = await done(r, refs)
    assert reasons(d) == ["record-too-large", "schema-invalid", "undecodable"]
    assert all(f.stage == "decode" and f.attempts == 1 for f in d.failed)
    assert len(d.written) == 1
    assert d.commit == {(topics.RAW, 0): 3, (topics.RAW, 1): 1}
    # The failure rows are stored before the dead letters go out.
    assert r.store.log == ["write", "fail", "dlq"]


async def test_an_nlp_exception_is_retried_alone_then_failed() -> None:
    r = rig(raises={"boom"})
    refs = records_of("Kyiv was calm.", "boom in the text", "Odesa was calm.")
    d = await done(r, refs)
    [failure] = d.failed
    assert (failure.reason, failure.stage, failure.attempts) == ("nlp-error", "nlp", 3)
    assert failure.error_class == "MemoryError" and "out of memory" in failure.detail
    assert len(d.written) == 2
    # One batch call, then three tries of the failing record on its own.
    assert [len(c) for c in r.nlp.calls] == [3, 1, 1, 1]


async def test_a_worker_death_isolates_the_record_that_kills_it() -> None:
    r = rig(kills={"poison"})
    refs = records_of("Kyiv was calm.", "poison pill", "Odesa was calm.")
    d = await done(r, refs)
    [failure] = d.failed
    assert (failure.reason, failure.attempts) == ("nlp-worker-died", 3)
    assert len(d.written) == 2
    assert d.commit == {(topics.RAW, 0): 3}
    assert [len(c) for c in r.nlp.calls] == [3, 1, 1, 1, 1, 1]
    assert r.store.failures == d.failed and r.dlq.sent == d.failed


async def test_over_budget_is_retried_degraded_and_kept_when_that_fits() -> None:
    r = rig(slow={"endless"})
    refs = records_of("Kyiv was calm.", "endless list")
    d = await done(r, refs)
    assert d.failed == [] and len(d.written) == 2
    assert any(c[0].endswith(" degraded") for c in r.nlp.calls)


async def test_over_budget_even_degraded_fails_with_nlp_budget() -> None:
    r = rig(slow={"endless"}, slow_even_degraded=True)
    d = await done(r, records_of("endless list", "Kyiv was calm."))
    [failure] = d.failed
    assert (failure.reason, failure.attempts) == ("nlp-budget", 2)
    assert len(d.written) == 1


async def test_a_database_rejection_isolates_the_article() -> None:
    r = rig()
    r.store.rejects = {"KKKK"}
    d = await done(r, records_of("Kyiv was calm.", "KKKK" * 10, "Odesa was calm."))
    [failure] = d.failed
    assert (failure.reason, failure.stage) == ("db-rejected", "database")
    assert "54000" in failure.detail
    assert len(d.written) == 2
    assert [len(w) for w in r.store.writes] == [1, 1]


async def test_an_event_over_the_size_limit_is_failed() -> None:
    mentions = tuple(Mention(start=5 * i, end=5 * i + 4, text="Kyiv") for i in range(500))
    big = Entity(name="Kyiv", label="GPE", mentions=mentions, mention_count=500, salience=1.0)
    limits = Limits(event=EventLimits(max_event_bytes=10_000, max_mentions_per_entity=1000))
    r = rig(limits, entities=(big,))
    d = await done(r, records_of("Kyiv " * 3000))
    [failure] = d.failed
    assert (failure.reason, failure.stage) == ("event-too-large", "publish")
    assert d.written == []
    # Capping the stored mentions keeps the same article publishable, its count true.
    capped = rig(
        Limits(event=EventLimits(max_event_bytes=10_000, max_mentions_per_entity=20)),
        entities=(big,),
    )
    kept = await done(capped, records_of("Kyiv " * 3000))
    assert kept.failed == [] and len(kept.written) == 1
    [entity] = kept.items[0].article.event.entities
    assert len(entity.mentions) == 20 and entity.mention_count == 500


async def test_a_database_outage_is_retried_without_losing_or_redoing_nlp() -> None:
    r = rig()
    refs = records_of("Kyiv was calm.", "Odesa was calm.")
    r.store.down = 1
    outcome = await r.handler.handle(refs)
    assert isinstance(outcome, Retry) and outcome.stage == "database"
    r.store.down = 0
    d = await done(r, refs)
    assert len(d.written) == 2


async def test_an_outage_while_writing_keeps_the_analyses_for_the_refetch() -> None:
    r = rig()
    refs = records_of("Kyiv was calm.")
    # versions answers, the write meets the outage.
    original = r.store.write

    async def down_once(items: Sequence[EnrichedArticle]) -> WriteResult:
        r.store.write = original  # type: ignore[method-assign]
        raise DatabaseUnavailable("PostgreSQL is down")

    r.store.write = down_once  # type: ignore[method-assign]
    assert isinstance(await r.handler.handle(refs), Retry)
    await done(r, refs)
    assert len(r.nlp.calls) == 1


async def test_a_kafka_outage_on_the_dlq_commits_nothing_and_keeps_the_verdict() -> None:
    r = rig(kills={"poison"})
    refs = records_of("poison pill")
    r.dlq.down = 1
    outcome = await r.handler.handle(refs)
    assert isinstance(outcome, Retry) and outcome.stage == "dlq"
    calls = len(r.nlp.calls)
    d = await done(r, refs)
    # Decided once: the refetch does not kill three more workers.
    assert len(r.nlp.calls) == calls
    assert reasons(d) == ["nlp-worker-died"] and len(r.dlq.sent) == 1


async def test_nlp_workers_that_cannot_start_are_an_outage() -> None:
    r = rig(unavailable=1)
    outcome = await r.handler.handle(records_of("Kyiv was calm.", "Odesa was calm."))
    assert isinstance(outcome, Retry) and outcome.stage == "nlp"
    d = await done(r, records_of("Kyiv was calm."))
    assert len(d.written) == 1


async def test_a_record_stored_as_failed_is_not_tried_again() -> None:
    r = rig(kills={"poison"})
    refs = records_of("poison pill")
    await done(r, refs)
    r.store.failed_events = {f.raw.event_id for f in r.store.failures if f.raw}
    calls = len(r.nlp.calls)
    again = await done(r, refs)
    assert again.failed == [] and again.unchanged == 1
    assert len(r.nlp.calls) == calls


def test_a_partition_revoked_mid_batch_is_not_committed() -> None:
    refs = records_of("a", "b") + records_of("c", partition=1)
    commit = next_offsets(refs)
    assert commit == {(topics.RAW, 0): 2, (topics.RAW, 1): 1}
    assert offsets_to_commit(commit, [(topics.RAW, 1)]) == {(topics.RAW, 1): 1}


def test_batches_are_bounded_by_size_but_take_at_least_one_record() -> None:
    refs = [record(b"x" * 400, i) for i in range(5)]
    take, rest = split_by_size(refs, 1_000)
    assert [r.offset for r in take] == [0, 1] and [r.offset for r in rest] == [2, 3, 4]
    take, rest = split_by_size(refs[:1], 10)
    assert len(take) == 1 and rest == []
