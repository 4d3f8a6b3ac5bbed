"""A DLQ send that fails on Kafka leaves the next attempt a fresh producer, not the broken one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import OutOfOrderSequenceNumber

from newsflow_enrich.metrics import Metrics
from newsflow_enrich.pipeline import Failure, RecordRef
from newsflow_enrich.settings import Settings
from newsflow_enrich.stream.deadletter import KafkaDeadLetters
from newsflow_schema import topics
from newsflow_schema.http import KafkaUnavailable

pytestmark = pytest.mark.unit


class FakeProducer:
    """Acknowledges every send, or fails every send with `error`."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error
        self.sent: list[tuple[str, bytes | None]] = []
        self.started = self.stopped = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def send(self, topic: str, *, value: bytes, key: bytes | None, **_: Any) -> Any:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.error is not None:
            future.set_exception(self.error)
        else:
            self.sent.append((topic, key))
            future.set_result(None)
        return future


def _failure(offset: int) -> Failure:
    ref = RecordRef(topics.RAW, 0, offset, b"key", b"{}")
    return Failure(ref, "nlp-error", "nlp", "the model choked", attempts=3)


async def test_a_failed_send_renews_the_producer_and_the_retry_goes_out() -> None:
    made: list[FakeProducer] = []

    def factory(_: Settings, role: str) -> Any:
        assert role == "dlq"
        made.append(FakeProducer(OutOfOrderSequenceNumber() if not made else None))
        return made[-1]

    dead_letters = KafkaDeadLetters(Settings(), Metrics(), factory)
    with pytest.raises(KafkaUnavailable):
        await dead_letters.send([_failure(1), _failure(2)])
    assert made[0].stopped and dead_letters.producer.renewals == 1

    await dead_letters.send([_failure(1), _failure(2)])
    assert len(made) == 2 and made[1].started
    assert made[1].sent == [(topics.DLQ, b"key"), (topics.DLQ, b"key")]
    # A send that works keeps its producer.
    await dead_letters.send([_failure(3)])
    assert len(made) == 2 and dead_letters.producer.renewals == 1
