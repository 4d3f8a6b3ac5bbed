"""The one Kafka producer factory of enrich: idempotent, acks=all."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from newsflow_enrich.settings import Settings

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
