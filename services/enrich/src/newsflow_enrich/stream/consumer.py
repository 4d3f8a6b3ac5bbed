"""The raw-topic consumer loop: fetch, hand the batch to the handler, seek back or commit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from sqlalchemy.ext.asyncio import AsyncEngine

from newsflow_enrich.db.write import PgStore
from newsflow_enrich.dedup.fingerprint import MinHasher
from newsflow_enrich.errors import INFRASTRUCTURE
from newsflow_enrich.faults import CrashPoints
from newsflow_enrich.metrics import Metrics
from newsflow_enrich.nlp import Document
from newsflow_enrich.nlp.workers import AnalysisRunner, NlpUnavailable, Outcome
from newsflow_enrich.pipeline import RecordRef, traceparent_of
from newsflow_enrich.settings import Settings
from newsflow_enrich.stream.batch import (
    BatchHandler,
    Done,
    Limits,
    Retry,
    offsets_to_commit,
    split_by_size,
)
from newsflow_enrich.stream.deadletter import KafkaDeadLetters
from newsflow_schema import logs, topics

log = logging.getLogger(__name__)


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


@dataclass(frozen=True, slots=True)
class _Writing:
    refs: list[RecordRef]
    task: asyncio.Task[Done | Retry]


class _TimedAnalyser:
    """The NLP runner, with the wall time of each call in `enrich_nlp_seconds`."""

    def __init__(self, nlp: AnalysisRunner, metrics: Metrics) -> None:
        self._nlp = nlp
        self._metrics = metrics

    async def enrich(self, docs: Sequence[Document]) -> list[Outcome]:
        started = time.perf_counter()
        try:
            return await self._nlp.enrich(docs)
        finally:
            self._metrics.nlp_seconds.observe(time.perf_counter() - started)


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def record_refs(batch: dict[TopicPartition, list[Any]]) -> list[RecordRef]:
    return [
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
        self._nlp = nlp
        self._metrics = metrics
        self._on_commit = on_commit
        self._stopping = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._dead_letters = KafkaDeadLetters(settings, metrics)
        self._backoff = settings.retry_backoff_initial_s
        self._handler = BatchHandler(
            store=PgStore(engine, crash=self._crash, hasher=MinHasher(settings.dedup_config())),
            analyser=_TimedAnalyser(nlp, metrics),
            dead_letters=self._dead_letters,
            clock=SystemClock(),
            limits=Limits(
                max_attempts=settings.max_attempts,
                max_record_bytes=settings.max_record_bytes,
                event=settings.event_limits(),
                source=settings.event_source,
            ),
        )
        self.assigned: set[TopicPartition] = set()
        # When records last arrived: the liveness check's sign of progress.
        self.last_fetch = time.monotonic()
        # Set while a batch is in hand: NLP and writes are progress too.
        self.busy_since: float | None = None
        self.started = False
        self.batches_committed = 0
        # The batch whose writes run while the next one is in NLP.
        self._writing: _Writing | None = None

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
                except INFRASTRUCTURE as exc:
                    log.warning("cannot start the consumer yet, retrying: %r", exc)
                    await self._close()
                    await self._pause()
            while not self._stopping.is_set():
                await self._poll_once()
            # The last batch being written is committed before the consumer leaves.
            await self._settle()
        finally:
            writing, self._writing = self._writing, None
            if writing is not None:
                writing.task.cancel()
                await asyncio.gather(writing.task, return_exceptions=True)
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
            heartbeat_interval_ms=min(s.heartbeat_interval_ms, s.session_timeout_ms // 3),
        )
        self._consumer.subscribe([topics.RAW], listener=_Rebalance(self))
        await self._consumer.start()
        await self._dead_letters.producer.get()
        self.started = True
        log.info("consuming %s as group %s", topics.RAW, s.group_id)

    async def _close(self) -> None:
        self.started = False
        consumer, self._consumer = self._consumer, None
        # Auto-commit is off: stopping commits nothing, unfinished work is redelivered.
        if consumer is not None:
            await consumer.stop()
        await self._dead_letters.producer.stop()

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
        # While a batch is being written, only records already fetched are taken (its
        # writes overlap their NLP); with none in hand it is committed at once, not after
        # a poll that waits up to batch_timeout_ms for new ones.
        timeout_ms = 0 if self._writing is not None else self._settings.batch_timeout_ms
        try:
            batch: dict[TopicPartition, list[Any]] = await consumer.getmany(
                timeout_ms=timeout_ms, max_records=self._settings.batch_max
            )
        except KafkaError as exc:
            log.warning("fetch failed, retrying: %r", exc)
            await self._settle()
            await self._pause()
            return
        if not batch or self._stopping.is_set():
            # Nothing new: the batch being written is committed now, not with the next one.
            # Stopping: records fetched now are left uncommitted for the next owner.
            await self._settle()
            return
        self.last_fetch = time.monotonic()
        if self._crash.reached("stall-fetch"):
            # Wedged on purpose (fault tests): fetch nothing more until shutdown.
            await self._settle()
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
    ) -> None:
        """Prepare this batch (NLP) while the previous one is written, then hand it on.

        At most two batches are in hand: one in NLP, one being written. Offsets are
        committed in batch order (the previous batch settles before this one is written),
        and when either meets an outage both are fetched again from the older one's start.
        """
        refs, rest = split_by_size(record_refs(batch), self._settings.batch_max_chars)
        # What does not fit the size bound is fetched again for the next batch.
        _seek_to_first(consumer, rest)
        self._metrics.batch_size.observe(len(refs))
        async with self._polling_kept_up(consumer):
            prepared = await self._handler.prepare(refs)
        previous = self._writing
        if not await self._settle():
            # The older batch meets an outage: this one, fetched after it, goes back too.
            assert previous is not None
            _seek_to_first(consumer, [*previous.refs, *refs])
            await self._pause()
            return
        if isinstance(prepared, Retry):
            self._retry_later(consumer, refs, prepared)
            await self._pause()
            return
        task = asyncio.create_task(self._handler.finish(prepared), name="write-batch")
        self._writing = _Writing(refs, task)

    async def _settle(self) -> bool:
        """Wait for the batch being written and commit it; False when it met an outage."""
        writing, self._writing = self._writing, None
        if writing is None:
            return True
        outcome = await writing.task
        consumer = self._consumer
        assert consumer is not None
        if isinstance(outcome, Retry):
            self._retry_later(consumer, writing.refs, outcome)
            return False
        self._backoff = self._settings.retry_backoff_initial_s
        self._account(outcome)
        if outcome.written:
            self._crash.reached("after-db-commit")
        await self._commit(consumer, outcome)
        self._record_lag(consumer, outcome)
        if outcome.written:
            self._on_commit()
        return True

    def _retry_later(self, consumer: AIOKafkaConsumer, refs: list[RecordRef], retry: Retry) -> None:
        self._metrics.transient_failures.labels(stage=retry.stage).inc()
        log.warning(
            "batch of %d failed at %s (transient), retrying in %.1fs: %r",
            len(refs),
            retry.stage,
            self._backoff,
            retry.error,
        )
        # Refetch the same records after the pause: polling again keeps us inside
        # max_poll_interval_ms however long PostgreSQL stays away.
        _seek_to_first(consumer, refs)

    @contextlib.asynccontextmanager
    async def _polling_kept_up(self, consumer: AIOKafkaConsumer) -> Any:
        """While a batch is in hand, poll with every partition paused.

        The group evicts a member that has not polled for max_poll_interval_ms; an NLP
        batch that isolates a failing record may take longer than that. Paused polls fetch
        nothing and keep the member in the group.
        """
        interval = self._settings.max_poll_interval_ms / 1000 / 4
        task = asyncio.create_task(keep_polling(consumer, interval), name="keep-polling")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            consumer.resume(*consumer.paused())

    def _account(self, done: Done) -> None:
        m = self._metrics
        m.records.labels(outcome="written").inc(len(done.written))
        m.records.labels(outcome="unchanged").inc(done.unchanged)
        m.records.labels(outcome="dead_letter").inc(len(done.failed))
        written = set(done.written)
        for built in done.items:
            # One line per article, in the trace its raw event carried from the HTTP request.
            item, ref = built.article, built.ref
            with logs.context(
                traceparent=traceparent_of(ref.headers), article_id=str(item.raw.article_id)
            ):
                log.info(
                    "article enriched" if item.raw.article_id in written else "article unchanged",
                    extra={
                        "partition": ref.partition,
                        "offset": ref.offset,
                        "entities": len(item.event.entities),
                        "quotes": len(item.event.quotes),
                        "stances": len(item.event.stances),
                    },
                )

    async def _commit(self, consumer: AIOKafkaConsumer, done: Done) -> bool:
        assigned = {(tp.topic, tp.partition) for tp in consumer.assignment()}
        offsets = {
            TopicPartition(topic, partition): offset
            for (topic, partition), offset in offsets_to_commit(done.commit, assigned).items()
        }
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

    def _record_lag(self, consumer: AIOKafkaConsumer, done: Done) -> None:
        owned = consumer.assignment()
        for (topic, partition), next_offset in done.commit.items():
            tp = TopicPartition(topic, partition)
            # A rebalance during the batch may have taken the partition: aiokafka asserts
            # on highwater() of a partition we no longer own, which killed the consumer.
            if tp not in owned:
                continue
            highwater = consumer.highwater(tp)
            if highwater is not None:
                self._metrics.consumer_lag.labels(partition=str(partition)).set(
                    max(0, highwater - next_offset)
                )


async def keep_polling(consumer: AIOKafkaConsumer, interval: float) -> None:
    """Every `interval`, pause every assigned partition and poll: the member stays alive."""
    while True:
        await asyncio.sleep(interval)
        consumer.pause(*consumer.assignment())
        try:
            stray = await consumer.getmany(timeout_ms=0)
        except KafkaError as exc:
            log.debug("keep-alive poll failed: %r", exc)
            continue
        # A partition assigned during the batch was not paused yet: its records are
        # not ours to handle now, so they are fetched again after the batch.
        for tp, records in stray.items():
            if records:
                consumer.seek(tp, records[0].offset)


def _seek_to_first(consumer: AIOKafkaConsumer, refs: Sequence[RecordRef]) -> None:
    """Seek every partition of `refs` we still own back to its first record in `refs`."""
    first: dict[TopicPartition, int] = {}
    for ref in refs:
        tp = TopicPartition(ref.topic, ref.partition)
        first[tp] = min(first.get(tp, ref.offset), ref.offset)
    owned = consumer.assignment()
    for tp, offset in first.items():
        if tp in owned:
            consumer.seek(tp, offset)
