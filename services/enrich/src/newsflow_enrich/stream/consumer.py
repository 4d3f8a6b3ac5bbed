"""The raw-topic consumer: batches → NLP → one PostgreSQL transaction → DLQ → offset commit."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from newsflow_enrich.db.write import (
    BatchResult,
    RejectedByDatabaseError,
    known_versions,
    rejects_data,
    store_batch,
)
from newsflow_enrich.faults import CrashPoints
from newsflow_enrich.kafka import make_producer
from newsflow_enrich.metrics import Metrics
from newsflow_enrich.nlp import Analysis
from newsflow_enrich.nlp.workers import AnalysisRunner, NlpError, NlpFailure, NlpUnavailable
from newsflow_enrich.pipeline import (
    EnrichedArticle,
    OversizedRecordError,
    RecordRef,
    StoredVersion,
    check_size,
    dead_letter,
    document_for,
    enrich_article,
    needs_enrichment,
    traceparent_of,
)
from newsflow_enrich.settings import Settings
from newsflow_schema import ArticleRawEvent, DecodeError, decode, logs, topics

log = logging.getLogger(__name__)

# Failures of the infrastructure, not of the record: retry the batch, never dead-letter it.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    DBAPIError,
    KafkaError,
    OSError,
    asyncio.TimeoutError,
    NlpUnavailable,
)


@dataclass(frozen=True, slots=True)
class Good:
    ref: RecordRef
    raw: ArticleRawEvent


@dataclass(frozen=True, slots=True)
class Poison:
    ref: RecordRef
    error: Exception


def classify(refs: Sequence[RecordRef], max_bytes: int) -> tuple[list[Good], list[Poison]]:
    """Split records into decodable raw events and poison (oversized, undecodable, invalid)."""
    good: list[Good] = []
    poison: list[Poison] = []
    for ref in refs:
        try:
            check_size(ref, max_bytes)
            good.append(Good(ref, decode(ArticleRawEvent, ref.value)))
        except (DecodeError, OversizedRecordError) as exc:
            poison.append(Poison(ref, exc))
    return good, poison


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: EnrichConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # Offsets are committed after every batch, so there is nothing pending to commit
        # here; a batch in flight commits only the partitions still assigned when it ends.
        log.info("partitions revoked: %s", sorted(str(tp) for tp in revoked))
        self._owner.assigned.difference_update(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("partitions assigned: %s", sorted(str(tp) for tp in assigned))
        self._owner.assigned.update(assigned)


class EnrichConsumer:
    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        nlp: AnalysisRunner,
        metrics: Metrics,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._settings = settings
        self._crash = CrashPoints(settings.crash_at)
        self._engine = engine
        self._nlp = nlp
        self._metrics = metrics
        self._on_commit = on_commit
        self._stopping = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._dlq: AIOKafkaProducer | None = None
        self._backoff = settings.retry_backoff_initial_s
        # NLP results survive a batch retry (the batch is refetched after a seek).
        self._analysis_cache: dict[tuple[str, str], Analysis] = {}
        self._failures: dict[tuple[str, str], NlpFailure] = {}
        self._refs: dict[uuid.UUID, RecordRef] = {}
        self.assigned: set[TopicPartition] = set()
        # When records last arrived: the liveness check's sign of progress.
        self.last_fetch = time.monotonic()
        # Set while a batch is in hand: NLP and writes are progress too.
        self.busy_since: float | None = None
        self.started = False
        self.batches_committed = 0

    # --- lifecycle -----------------------------------------------------------------

    async def run(self) -> None:
        try:
            # Joining the group only once the models are loaded keeps the first batch
            # (and the partitions' other consumers) from waiting on a model load.
            while not self._stopping.is_set():
                try:
                    await self._nlp.warm_up()
                    break
                except NlpUnavailable as exc:
                    log.warning("NLP workers failed to start, retrying: %r", exc)
                    await self._pause()
            while not self._stopping.is_set():
                try:
                    await self._start()
                    break
                except TRANSIENT_ERRORS as exc:
                    log.warning("cannot start the consumer yet, retrying: %r", exc)
                    await self._close()
                    await self._pause()
            while not self._stopping.is_set():
                await self._poll_once()
        finally:
            await self._close()

    async def stop(self, task: asyncio.Task[None]) -> None:
        """Stop fetching; give the batch in hand a grace period, then abandon it uncommitted."""
        self._stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), self._settings.shutdown_grace_s)
        except TimeoutError:
            log.warning("abandoning the batch in hand: its offsets stay uncommitted")
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _start(self) -> None:
        s = self._settings
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap_servers,
            group_id=s.group_id,
            client_id=s.client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=s.batch_max,
            max_poll_interval_ms=s.max_poll_interval_ms,
            session_timeout_ms=s.session_timeout_ms,
            heartbeat_interval_ms=max(1000, s.session_timeout_ms // 3),
        )
        self._consumer.subscribe([topics.RAW], listener=_Rebalance(self))
        await self._consumer.start()
        self._dlq = make_producer(s, role="dlq")
        await self._dlq.start()
        self.started = True
        log.info("consuming %s as group %s", topics.RAW, s.group_id)

    async def _close(self) -> None:
        self.started = False
        consumer, self._consumer = self._consumer, None
        dlq, self._dlq = self._dlq, None
        # Auto-commit is off: stopping commits nothing, unfinished work is redelivered.
        if consumer is not None:
            await consumer.stop()
        if dlq is not None:
            await dlq.stop()

    async def _pause(self) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), self._backoff)
        except TimeoutError:
            pass
        self._backoff = min(self._backoff * 2, self._settings.retry_backoff_max_s)

    # --- one batch -----------------------------------------------------------------

    async def _poll_once(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        try:
            batch: dict[TopicPartition, list[Any]] = await consumer.getmany(
                timeout_ms=self._settings.batch_timeout_ms, max_records=self._settings.batch_max
            )
        except KafkaError as exc:
            log.warning("fetch failed, retrying: %r", exc)
            await self._pause()
            return
        if not batch or self._stopping.is_set():
            # Stopping: records fetched now are left uncommitted for the next owner.
            return
        self.last_fetch = time.monotonic()
        if self._crash.reached("stall-fetch"):
            # Wedged on purpose (fault tests): fetch nothing more until shutdown.
            await self._stopping.wait()
            return
        self.busy_since = time.monotonic()
        try:
            await self.process(consumer, batch)
        finally:
            self.busy_since = None
            self.last_fetch = time.monotonic()

    async def process(
        self, consumer: AIOKafkaConsumer, batch: dict[TopicPartition, list[Any]]
    ) -> bool:
        """Process one fetched batch; True when its offsets were committed."""
        first = {tp: records[0].offset for tp, records in batch.items() if records}
        last = {tp: records[-1].offset for tp, records in batch.items() if records}
        refs = [
            RecordRef(
                topic=r.topic,
                partition=r.partition,
                offset=r.offset,
                key=r.key,
                value=r.value,
                headers=tuple(r.headers or ()),
            )
            for records in batch.values()
            for r in records
        ]
        self._metrics.batch_size.observe(len(refs))
        stage = "database"
        try:
            good, poison = classify(refs, self._settings.max_record_bytes)
            stored = await known_versions(self._engine, (g.raw.article_id for g in good))
            stage = "nlp"
            items, nlp_poison = await self._enrich(good, stored)
            poison.extend(nlp_poison)
            stage = "database"
            if items:
                self._crash.reached("before-db-commit")
            result, store_poison = await self._store(items)
            poison.extend(store_poison)
            stage = "dlq"
            await self._dead_letter(poison)
        except TRANSIENT_ERRORS as exc:
            self._metrics.transient_failures.labels(stage=stage).inc()
            log.warning(
                "batch of %d failed at %s (transient), retrying in %.1fs: %r",
                len(refs),
                stage,
                self._backoff,
                exc,
            )
            # Refetch the same records after the pause: polling again keeps us inside
            # max_poll_interval_ms however long PostgreSQL stays away.
            for tp, offset in first.items():
                if tp in consumer.assignment():
                    consumer.seek(tp, offset)
            await self._pause()
            return False
        self._backoff = self._settings.retry_backoff_initial_s
        self._analysis_cache.clear()
        self._failures.clear()
        self._metrics.records.labels(outcome="written").inc(len(result.written))
        self._metrics.records.labels(outcome="unchanged").inc(
            len(result.unchanged) + len(good) - len(items)
        )
        self._metrics.records.labels(outcome="dead_letter").inc(len(poison))
        self._log_articles(items, set(result.written))
        if result.written:
            self._crash.reached("after-db-commit")
        committed = await self._commit(consumer, last)
        self._record_lag(consumer, last)
        if result.written:
            self._on_commit()
        return committed

    async def _enrich(
        self, good: list[Good], stored: dict[uuid.UUID, StoredVersion]
    ) -> tuple[list[EnrichedArticle], list[Poison]]:
        # A redelivery of content already stored needs no NLP: the store would skip it.
        todo = [g for g in good if needs_enrichment(g.raw, stored.get(g.raw.article_id))]
        missing = [g for g in todo if _cache_key(g.raw) not in self._analysis_cache]
        if missing:
            started = time.perf_counter()
            outcomes = await self._nlp.enrich([document_for(g.raw) for g in missing])
            self._metrics.nlp_seconds.observe(time.perf_counter() - started)
            for g, outcome in zip(missing, outcomes, strict=True):
                if isinstance(outcome, Analysis):
                    self._analysis_cache[_cache_key(g.raw)] = outcome
                else:
                    self._failures[_cache_key(g.raw)] = outcome
        items: list[EnrichedArticle] = []
        poison: list[Poison] = []
        self._refs = {g.raw.event_id: g.ref for g in todo}
        now = datetime.now(UTC)
        for g in todo:
            key = _cache_key(g.raw)
            analysis = self._analysis_cache.get(key)
            if analysis is None:
                failure = self._failures.pop(key, NlpFailure("NlpError", "no analysis"))
                poison.append(Poison(g.ref, NlpError(failure)))
                continue
            items.append(
                enrich_article(
                    g.raw,
                    analysis,
                    enriched_at=now,
                    source=self._settings.event_source,
                    traceparent=traceparent_of(g.ref.headers),
                )
            )
        return items, poison

    async def _store(self, items: list[EnrichedArticle]) -> tuple[BatchResult, list[Poison]]:
        try:
            return await store_batch(self._engine, items), []
        except DBAPIError as exc:
            if not rejects_data(exc):
                raise
            # A value PostgreSQL refuses (a NUL byte in text, say) fails every retry:
            # isolate the article that carries it and dead-letter only that one.
            log.warning("batch rejected by PostgreSQL, storing one by one: %r", exc)
        result = BatchResult()
        poison: list[Poison] = []
        refs = self._refs
        for item in items:
            try:
                one = await store_batch(self._engine, [item])
            except DBAPIError as exc:
                if not rejects_data(exc):
                    raise
                poison.append(Poison(refs[item.raw.event_id], RejectedByDatabaseError(exc)))
                continue
            result.written.extend(one.written)
            result.unchanged.extend(one.unchanged)
        return result, poison

    def _log_articles(self, items: list[EnrichedArticle], written: set[uuid.UUID]) -> None:
        """One line per article, in the trace its raw event carried from the HTTP request."""
        for item in items:
            ref = self._refs.get(item.raw.event_id)
            traceparent = traceparent_of(ref.headers) if ref is not None else None
            with logs.context(traceparent=traceparent, article_id=str(item.raw.article_id)):
                log.info(
                    "article enriched" if item.raw.article_id in written else "article unchanged",
                    extra={
                        "partition": ref.partition if ref else None,
                        "offset": ref.offset if ref else None,
                        "entities": len(item.event.entities),
                        "quotes": len(item.event.quotes),
                        "stances": len(item.event.stances),
                    },
                )

    async def _dead_letter(self, poison: list[Poison]) -> None:
        if not poison:
            return
        producer = self._dlq
        assert producer is not None
        deliveries = []
        for p in poison:
            value, headers = dead_letter(
                p.ref,
                p.error,
                consumer_group=self._settings.group_id,
                value_max_bytes=self._settings.dlq_value_max_bytes,
                source=self._settings.event_source,
            )
            key = p.ref.key.decode("utf-8", "replace") if p.ref.key else None
            with logs.context(traceparent=traceparent_of(p.ref.headers), article_id=key):
                log.warning(
                    "dead-lettering %s[%d]@%d: %s: %s",
                    p.ref.topic,
                    p.ref.partition,
                    p.ref.offset,
                    type(p.error).__name__,
                    p.error,
                )
            deliveries.append(
                await producer.send(topics.DLQ, value=value, key=p.ref.key, headers=headers)
            )
        await asyncio.gather(*deliveries)
        self._metrics.dlq.inc(len(poison))

    async def _commit(self, consumer: AIOKafkaConsumer, last: dict[TopicPartition, int]) -> bool:
        assigned = consumer.assignment()
        offsets = {tp: offset + 1 for tp, offset in last.items() if tp in assigned}
        if not offsets:
            return False
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # A rebalance took the partitions: their new owner redoes the batch, and the
            # writes are idempotent, so this is a duplicate at worst, never a loss.
            log.warning("offset commit lost to a rebalance: %r", exc)
            return False
        except KafkaError as exc:
            # The results are in PostgreSQL; a later commit covers these offsets.
            log.warning("offset commit failed, a later batch will cover it: %r", exc)
            return False
        self.batches_committed += 1
        return True

    def _record_lag(self, consumer: AIOKafkaConsumer, last: dict[TopicPartition, int]) -> None:
        owned = consumer.assignment()
        for tp, offset in last.items():
            # A rebalance during the batch may have taken the partition: aiokafka asserts
            # on highwater() of a partition we no longer own, which killed the consumer.
            if tp not in owned:
                continue
            highwater = consumer.highwater(tp)
            if highwater is not None:
                self._metrics.consumer_lag.labels(partition=str(tp.partition)).set(
                    max(0, highwater - offset - 1)
                )


def _cache_key(raw: ArticleRawEvent) -> tuple[str, str]:
    return (str(raw.event_id), raw.content_hash)
