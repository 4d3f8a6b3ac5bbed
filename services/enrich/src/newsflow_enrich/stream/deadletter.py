"""The dead-letter topic: one DLQ record per failed record, naming its origin and reason."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaProducer

from newsflow_enrich.errors import INFRASTRUCTURE, translate
from newsflow_enrich.kafka import RenewableProducer
from newsflow_enrich.metrics import Metrics
from newsflow_enrich.pipeline import Failure, traceparent_of
from newsflow_enrich.settings import Settings
from newsflow_schema import DeadLetterEvent, encode, encode_headers, logs, topics

log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]]


def dead_letter(
    failure: Failure, *, consumer_group: str | None, value_max_bytes: int, source: str
) -> tuple[bytes, Headers]:
    """The DLQ record for a failed record: value (DeadLetterEvent) and headers."""
    ref = failure.ref
    value = ref.value or b""
    error_class = failure.error_class or failure.reason
    message = failure.detail[:4000]
    event = DeadLetterEvent(
        original_topic=ref.topic,
        original_partition=ref.partition,
        original_offset=ref.offset,
        original_key=ref.key.decode("utf-8", "replace") if ref.key is not None else None,
        original_value_b64=base64.b64encode(value[:value_max_bytes]).decode("ascii"),
        original_value_size=len(value),
        original_value_truncated=len(value) > value_max_bytes,
        error_class=error_class,
        error_message=message,
        consumer_group=consumer_group,
        reason=failure.reason,
        stage=failure.stage,
        attempts=failure.attempts,
    )
    # Header values are for humans and tools such as kcat: keep them to one short line.
    short = " ".join(message.split())[:1000]
    headers = encode_headers(
        event,
        source=source,
        extra=(
            ("dlq_original_topic", ref.topic),
            ("dlq_original_partition", str(ref.partition)),
            ("dlq_original_offset", str(ref.offset)),
            ("dlq_error_class", error_class),
            ("dlq_error_message", short),
            ("dlq_reason", failure.reason),
        ),
    )
    return encode(event), headers


class KafkaDeadLetters:
    """Sends failures to the DLQ and waits for every acknowledgement (acks=all)."""

    def __init__(
        self,
        settings: Settings,
        metrics: Metrics,
        factory: Callable[[Settings, str], AIOKafkaProducer] | None = None,
    ) -> None:
        self._settings = settings
        self.producer = RenewableProducer(settings, "dlq", factory)
        self._metrics = metrics

    async def send(self, failures: Sequence[Failure]) -> None:
        try:
            producer = await self.producer.get()
            deliveries = [await self._send_one(producer, f) for f in failures]
            # Every delivery ends before a failure is raised, so a renewed producer has
            # nothing of the old one's in flight.
            for result in await asyncio.gather(*deliveries, return_exceptions=True):
                if isinstance(result, BaseException):
                    raise result
        except INFRASTRUCTURE as exc:
            await self.producer.renew(exc)
            raise translate(exc) from exc
        self._metrics.dlq.inc(len(failures))
        for failure in failures:
            self._metrics.failures.labels(reason=failure.reason).inc()

    async def _send_one(self, producer: AIOKafkaProducer, failure: Failure) -> asyncio.Future[None]:
        s = self._settings
        value, headers = dead_letter(
            failure,
            consumer_group=s.group_id,
            value_max_bytes=s.dlq_value_max_bytes,
            source=s.event_source,
        )
        ref = failure.ref
        key = ref.key.decode("utf-8", "replace") if ref.key else None
        with logs.context(traceparent=traceparent_of(ref.headers), article_id=key):
            log.warning(
                "failed for good after %d attempt(s), dead-lettering %s[%d]@%d: %s: %s",
                failure.attempts,
                ref.topic,
                ref.partition,
                ref.offset,
                failure.reason,
                failure.detail,
            )
        delivery: asyncio.Future[None] = await producer.send(
            topics.DLQ, value=value, key=ref.key, headers=headers
        )
        return delivery
