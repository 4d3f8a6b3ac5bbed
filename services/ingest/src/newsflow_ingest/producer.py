"""The Kafka producer of ingest: its one factory, its lifecycle, and publishing with deadlines."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    RecordTooLargeError,
)

from newsflow_ingest.settings import Settings
from newsflow_schema.http import KafkaUnavailable

log = logging.getLogger(__name__)

ProducerFactory = Callable[[], AIOKafkaProducer]


@dataclass(frozen=True, slots=True)
class Record:
    """One record to publish: key, value and headers as bytes."""

    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where Kafka stored a record, once it acknowledged it."""

    topic: str
    partition: int
    offset: int


class KafkaUnavailableError(KafkaUnavailable):
    """Kafka did not acknowledge in time or cannot be reached: the client should retry.

    Raised, it is answered 503 with Retry-After by the shared problem handlers.
    """


class RecordRejectedError(Exception):
    """Kafka refuses this record itself (e.g. too large); retrying will not help."""


class EventPublisher(Protocol):
    """What the app needs from a publisher; Publisher is the Kafka one, tests may fake it."""

    @property
    def connected(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ready(self) -> bool: ...

    async def publish_many(
        self, topic: str, records: Sequence[Record]
    ) -> list[Delivery | KafkaUnavailableError | RecordRejectedError]: ...


def make_producer(settings: Settings) -> AIOKafkaProducer:
    """The one way ingest builds a producer: idempotent, acks from all in-sync replicas."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=settings.kafka_client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=settings.linger_ms,
        # A raw event (body plus original) is ~10 KB: aiokafka's 16 KiB default batch holds
        # one, and under load every send waited for its own request.
        max_batch_size=settings.max_batch_size,
        max_request_size=settings.max_request_size,
        compression_type="gzip",
        request_timeout_ms=settings.kafka_request_timeout_ms,
        retry_backoff_ms=settings.kafka_retry_backoff_ms,
    )


class Publisher:
    """Owns the producer: connects in the background, publishes with a deadline.

    The app must serve (503s and /readyz) while Kafka is down, so start() never waits for
    the broker: a background task keeps trying until a producer starts. aiokafka reconnects
    a started producer by itself when the broker comes back; a producer that fails with a
    fatal error (e.g. the broker lost its idempotence state) is replaced.
    """

    def __init__(self, settings: Settings, factory: ProducerFactory | None = None) -> None:
        self._settings = settings
        self._factory: ProducerFactory = factory or (lambda: make_producer(settings))
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def connected(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        self._stopping = False
        self._ensure_connecting()

    def _ensure_connecting(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._connect(), name="ingest-kafka-connect")

    async def _connect(self) -> None:
        attempt = 0
        while not self._stopping:
            attempt += 1
            producer = self._factory()
            try:
                await producer.start()
            except (KafkaError, OSError) as exc:
                log.warning("Kafka not reachable (attempt %d): %r; retrying", attempt, exc)
                await self._close(producer)
                await asyncio.sleep(self._settings.connect_backoff_s)
                continue
            self._producer = producer
            log.info("Kafka producer connected to %s", self._settings.kafka_bootstrap_servers)
            return

    async def _close(self, producer: AIOKafkaProducer) -> None:
        try:
            await asyncio.wait_for(producer.stop(), self._settings.shutdown_timeout_s)
        except TimeoutError:
            log.warning("Kafka producer did not stop within %ss", self._settings.shutdown_timeout_s)
        except KafkaError as exc:
            log.warning("Kafka producer stopped with an error: %r", exc)

    async def _replace(self, broken: AIOKafkaProducer, reason: BaseException) -> None:
        if self._producer is not broken or self._stopping:
            return
        log.warning("replacing the Kafka producer after a fatal error: %r", reason)
        self._producer = None
        await self._close(broken)
        self._ensure_connecting()

    async def stop(self) -> None:
        """Stop connecting, flush what is pending (bounded) and close the producer."""
        self._stopping = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        producer, self._producer = self._producer, None
        if producer is None:
            return
        try:
            await asyncio.wait_for(producer.flush(), self._settings.shutdown_timeout_s)
        except TimeoutError:
            log.warning("pending Kafka sends not flushed within the shutdown timeout")
        await self._close(producer)

    async def ready(self) -> bool:
        """Whether a broker answers a metadata request now (bounded; never hangs)."""
        producer = self._producer
        if producer is None:
            return False
        try:
            updated: Any = await asyncio.wait_for(
                producer.client.force_metadata_update(), self._settings.ready_timeout_s
            )
        except TimeoutError:
            return False
        except KafkaError as exc:
            log.info("Kafka readiness probe failed: %r", exc)
            return False
        return bool(updated)

    async def publish_many(
        self, topic: str, records: Sequence[Record]
    ) -> list[Delivery | KafkaUnavailableError | RecordRejectedError]:
        """Publish records in one go and wait for their acknowledgements, in input order.

        Every record is handed to the producer before any acknowledgement is awaited, so
        aiokafka puts them into shared batches instead of one round-trip each. The whole
        call is bounded by publish_timeout_s: a record not acknowledged by then is reported
        as KafkaUnavailableError (it may still be stored later; its id is stable, so a retry
        is safe).
        """
        producer = self._producer
        if producer is None:
            raise KafkaUnavailableError("not connected to Kafka")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.publish_timeout_s
        refused: dict[int, RecordRejectedError] = {}
        futures = await _send_all(producer, topic, records, deadline, refused)
        if futures:
            remaining = max(deadline - loop.time(), 0.0)
            await asyncio.wait(futures.values(), timeout=remaining)
        results: list[Delivery | KafkaUnavailableError | RecordRejectedError] = []
        fatal: BaseException | None = None
        for index in range(len(records)):
            if index in refused:
                results.append(refused[index])
                continue
            outcome, error = _outcome(futures.get(index))
            fatal = fatal or error
            results.append(outcome)
        if fatal is not None:
            await self._replace(producer, fatal)
        return results


_Outcome = Delivery | KafkaUnavailableError | RecordRejectedError


async def _send_all(
    producer: AIOKafkaProducer,
    topic: str,
    records: Sequence[Record],
    deadline: float,
    refused: dict[int, RecordRejectedError],
) -> dict[int, asyncio.Future[Any]]:
    """Hand every record to the producer (until the deadline); their delivery futures."""
    futures: dict[int, asyncio.Future[Any]] = {}
    try:
        async with asyncio.timeout_at(deadline):
            for index, record in enumerate(records):
                try:
                    futures[index] = await producer.send(
                        topic, value=record.value, key=record.key, headers=record.headers
                    )
                except (MessageSizeTooLargeError, RecordTooLargeError) as exc:
                    refused[index] = RecordRejectedError(f"Kafka refused the record: {exc}")
                except KafkaError as exc:
                    # No metadata or no buffer space: the rest would fail the same way.
                    log.warning("Kafka send failed: %r", exc)
                    break
    except TimeoutError:
        pass
    return futures


def _outcome(future: asyncio.Future[Any] | None) -> tuple[_Outcome, BaseException | None]:
    """What became of one sent record, and the error that makes the producer unusable."""
    if future is None or not future.done():
        return KafkaUnavailableError("Kafka did not acknowledge in time"), None
    error = future.exception()
    if error is None:
        metadata = future.result()
        return Delivery(metadata.topic, metadata.partition, metadata.offset), None
    if isinstance(error, MessageSizeTooLargeError | RecordTooLargeError):
        return RecordRejectedError(f"Kafka refused the record: {error}"), None
    fatal = None if isinstance(error, KafkaTimeoutError) else error
    return KafkaUnavailableError(f"Kafka did not store the record: {error!r}"), fatal
