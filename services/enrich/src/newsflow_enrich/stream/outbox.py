"""The outbox relay: publishes pending outbox rows to Kafka, then marks them published."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from newsflow_enrich.db.models import outbox
from newsflow_enrich.db.write import outbox_backlog
from newsflow_enrich.errors import INFRASTRUCTURE, Rejected, translate
from newsflow_enrich.faults import CrashPoints
from newsflow_enrich.kafka import RenewableProducer
from newsflow_enrich.metrics import Metrics
from newsflow_enrich.settings import Settings
from newsflow_schema.http import KafkaUnavailable, ServiceUnavailable

log = logging.getLogger(__name__)

# A relay pass meets outages raw (from SQLAlchemy or aiokafka) or already mapped.
RELAY_ERRORS: tuple[type[BaseException], ...] = (*INFRASTRUCTURE, ServiceUnavailable)


@dataclass(slots=True)
class _Pass:
    """What one relay pass did: rows delivered, rows refused for good, the outage it met."""

    delivered: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)
    outage: BaseException | None = None

    def settle(self, row_id: int, error: BaseException | None) -> None:
        if error is None:
            self.delivered.append(row_id)
            return
        mapped = translate(error)
        if isinstance(mapped, Rejected):
            self.refused[row_id] = mapped.detail
        else:
            self.outage = self.outage or mapped


async def _send_rows(producer: AIOKafkaProducer, rows: Sequence[Row[Any]], done: _Pass) -> None:
    deliveries: list[tuple[int, asyncio.Future[Any]]] = []
    for row in rows:
        try:
            delivery = await producer.send(
                row.topic,
                value=bytes(row.payload),
                key=row.key.encode(),
                headers=list(zip(row.header_names, map(bytes, row.header_values), strict=True)),
            )
        except INFRASTRUCTURE as exc:
            done.settle(row.id, exc)
            if done.outage is not None:
                # Records already handed to the producer may still be delivered: wait
                # for them below so the ones that made it are marked, not sent twice.
                break
            continue
        deliveries.append((row.id, delivery))
    # Marked published only once the broker acknowledged the record (acks=all); a
    # crash in between republishes it — a duplicate subscribers dedupe on event_id.
    results = await asyncio.gather(*(d for _, d in deliveries), return_exceptions=True)
    for (row_id, _), result in zip(deliveries, results, strict=True):
        done.settle(row_id, result if isinstance(result, BaseException) else None)


async def relay_once(
    engine: AsyncEngine,
    producer: AIOKafkaProducer,
    limit: int,
    crash: CrashPoints | None = None,
) -> int:
    """Publish up to `limit` pending rows; returns how many were settled (sent or set aside).

    A row the broker refuses for good (too large, invalid) is marked failed and never
    tried again, so it cannot hold back the rows after it.
    """
    async with engine.begin() as conn:
        # SKIP LOCKED: replicas each take different rows instead of waiting on each other.
        rows = (
            await conn.execute(
                select(outbox.c.id, outbox.c.topic, outbox.c.key, outbox.c.payload)
                .add_columns(outbox.c.header_names, outbox.c.header_values)
                .where(outbox.c.published_at.is_(None), outbox.c.failed_at.is_(None))
                .order_by(outbox.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not rows:
            return 0
        done = _Pass()
        await _send_rows(producer, rows, done)
        if done.delivered and crash is not None:
            crash.reached("after-relay-publish")
        if done.delivered:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(done.delivered))
                .values(published_at=func.now())
            )
        for row_id, why in done.refused.items():
            log.error("outbox row %d refused by the broker for good, set aside: %s", row_id, why)
            await conn.execute(
                update(outbox)
                .where(outbox.c.id == row_id)
                .values(failed_at=func.now(), failure=why[:2000])
            )
    # Raised after the commit, so the rows that were delivered stay marked.
    if done.outage is not None:
        raise done.outage
    return len(done.delivered) + len(done.refused)


class OutboxRelay:
    """Runs relay passes whenever woken (after a consumer commit) or every poll interval."""

    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        metrics: Metrics,
        factory: Callable[[Settings, str], AIOKafkaProducer] | None = None,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._metrics = metrics
        self._crash = CrashPoints(settings.crash_at)
        self.wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self.producer = RenewableProducer(settings, "relay", factory)
        self.kafka_ok = False

    def notify(self) -> None:
        self.wakeup.set()

    async def run(self) -> None:
        backoff = self._settings.retry_backoff_initial_s
        try:
            while not self._stopping.is_set():
                try:
                    producer = await self.producer.get()
                    self.kafka_ok = True
                    while sent := await relay_once(
                        self._engine, producer, self._settings.relay_batch_max, self._crash
                    ):
                        self._metrics.outbox_published.inc(sent)
                    self._metrics.outbox_backlog.set(await outbox_backlog(self._engine))
                    backoff = self._settings.retry_backoff_initial_s
                except RELAY_ERRORS as exc:
                    on_kafka = isinstance(exc, KafkaError | KafkaUnavailable)
                    self.kafka_ok = not on_kafka
                    if on_kafka:
                        await self.producer.renew(exc)
                    log.warning("outbox relay pass failed, retrying in %.1fs: %r", backoff, exc)
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, self._settings.retry_backoff_max_s)
                    continue
                await self._wait()
            # The consumer stopped first, so this publishes the rows of its last batch.
            await self.flush()
        finally:
            await self._stop_producer()

    async def _wait(self) -> None:
        try:
            await asyncio.wait_for(self.wakeup.wait(), self._settings.relay_poll_interval_s)
        except TimeoutError:
            return
        self.wakeup.clear()

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return

    async def flush(self) -> None:
        """Publish what is pending now (best effort within relay_flush_timeout_s)."""
        if not self.producer.started:
            return
        try:
            async with asyncio.timeout(self._settings.relay_flush_timeout_s):
                producer = await self.producer.get()
                while sent := await relay_once(
                    self._engine, producer, self._settings.relay_batch_max
                ):
                    self._metrics.outbox_published.inc(sent)
        except RELAY_ERRORS as exc:
            log.warning("outbox flush on shutdown incomplete, rows stay pending: %r", exc)

    async def stop(self, task: asyncio.Task[None]) -> None:
        """Stop the loop, flush what is pending, close the producer."""
        self._stopping.set()
        self.wakeup.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), self._settings.relay_flush_timeout_s + 5)
        except TimeoutError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _stop_producer(self) -> None:
        await self.producer.stop(self._settings.relay_flush_timeout_s)
