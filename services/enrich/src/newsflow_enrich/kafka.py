"""The one Kafka producer factory of enrich (idempotent, acks=all) and its lifecycle."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from newsflow_enrich.settings import Settings

log = logging.getLogger(__name__)

REQUEST_OVERHEAD_BYTES = 64 * 1024


def make_producer(settings: Settings, *, role: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"{settings.client_id}-{role}",
        acks="all",
        # Retries after a lost ack must not write a record twice.
        enable_idempotence=True,
        linger_ms=5,
        request_timeout_ms=15_000,
        # Set with the topics' max.message.bytes (at least this): an enriched event is cut
        # to max_event_bytes, the rest is key, headers and batch framing.
        max_request_size=settings.max_event_bytes + REQUEST_OVERHEAD_BYTES,
    )


class RenewableProducer:
    """A producer started on first use and replaced after a failed send.

    An idempotent producer can fall out of step with the broker for good: after a broker
    restart with a batch in flight it answered every later send with
    OutOfOrderSequenceNumber. Kafka clients treat that as fatal for the producer, so the
    owner calls `renew()` after a send fails on Kafka, and the next `get()` starts a fresh
    producer (a new producer id). Every delivery of the old one has been awaited by then.
    """

    def __init__(
        self,
        settings: Settings,
        role: str,
        factory: Callable[[Settings, str], AIOKafkaProducer] | None = None,
    ) -> None:
        self._settings = settings
        self._role = role
        self._factory = factory or (lambda s, r: make_producer(s, role=r))
        self._producer: AIOKafkaProducer | None = None
        self.renewals = 0

    @property
    def started(self) -> bool:
        return self._producer is not None

    async def get(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = self._factory(self._settings, self._role)
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def renew(self, reason: BaseException) -> None:
        if self._producer is None:
            return
        log.warning("replacing the %s producer after a failed send: %r", self._role, reason)
        self.renewals += 1
        await self.stop()

    async def stop(self, timeout_s: float = 10.0) -> None:
        producer, self._producer = self._producer, None
        if producer is None:
            return
        try:
            await asyncio.wait_for(producer.stop(), timeout_s)
        except (KafkaError, TimeoutError) as exc:
            log.warning("the %s producer did not stop cleanly: %r", self._role, exc)
