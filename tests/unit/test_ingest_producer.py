"""The Publisher's lifecycle and deadlines, with a fake in place of aiokafka's producer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    MessageSizeTooLargeError,
    OutOfOrderSequenceNumber,
)

from newsflow_ingest.producer import (
    Delivery,
    KafkaUnavailableError,
    Publisher,
    Record,
    RecordRejectedError,
    make_producer,
)
from newsflow_ingest.settings import Settings

pytestmark = pytest.mark.unit

RECORD = Record(key=b"k", value=b"{}", headers=[("ce_id", b"1")])


@dataclass
class Metadata:
    topic: str
    partition: int
    offset: int


class FakeClient:
    def __init__(self) -> None:
        self.answer: bool | None = True  # None: never answers

    def force_metadata_update(self) -> Awaitable[bool]:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if self.answer is not None:
            future.set_result(self.answer)
        return future


class FakeProducer:
    """Acks, hangs or fails each send as `outcome(index)` says."""

    def __init__(self, *, start_error: Exception | None = None) -> None:
        self.start_error = start_error
        self.client = FakeClient()
        self.outcome: Callable[[int], str | Exception] = lambda _: "ack"
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.flushed = self.stopped = False

    async def start(self) -> None:
        if self.start_error is not None:
            raise self.start_error

    async def stop(self) -> None:
        self.stopped = True

    async def flush(self) -> None:
        self.flushed = True

    async def send(
        self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
    ) -> asyncio.Future[Metadata]:
        index = len(self.sent)
        self.sent.append((topic, key, value))
        outcome = self.outcome(index)
        if isinstance(outcome, MessageSizeTooLargeError):
            raise outcome
        future: asyncio.Future[Metadata] = asyncio.get_running_loop().create_future()
        if outcome == "ack":
            future.set_result(Metadata(topic, 2, 100 + index))
        elif isinstance(outcome, Exception):
            future.set_exception(outcome)
        return future


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": "127.0.0.1:1",
        "publish_timeout_s": 0.3,
        "ready_timeout_s": 0.2,
        "connect_backoff_s": 0.01,
        "shutdown_timeout_s": 0.5,
        **overrides,
    }
    return Settings.model_validate(values)


async def until(condition: Callable[[], bool], deadline_s: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    while not condition():
        assert loop.time() < deadline, "condition not met before the deadline"
        await asyncio.sleep(0.01)


async def test_factory_builds_an_idempotent_acks_all_producer() -> None:
    producer = make_producer(settings(kafka_bootstrap_servers="127.0.0.1:1"))
    try:
        # aiokafka keeps these private; they are what acks="all" + idempotence turn into.
        assert producer._txn_manager is not None
        assert producer._sender._acks == -1
        assert producer.client._bootstrap_servers == "127.0.0.1:1"
    finally:
        await producer.stop()


async def test_start_does_not_wait_for_kafka_and_keeps_trying() -> None:
    made: list[FakeProducer] = []

    def factory() -> Any:
        failing = len(made) < 3
        made.append(FakeProducer(start_error=KafkaConnectionError() if failing else None))
        return made[-1]

    publisher = Publisher(settings(), factory)
    await publisher.start()
    with pytest.raises(KafkaUnavailableError):
        await publisher.publish_many("t", [RECORD])

    await until(lambda: publisher.connected)
    assert len(made) == 4
    assert all(p.stopped for p in made[:3])
    assert await publisher.publish_many("t", [RECORD]) == [Delivery("t", 2, 100)]
    await publisher.stop()
    assert made[-1].flushed and made[-1].stopped


async def test_publish_many_sends_all_then_reports_each_in_order() -> None:
    producer = FakeProducer()
    outcomes: dict[int, str | Exception] = {
        1: MessageSizeTooLargeError(),
        2: "hang",
        3: KafkaConnectionError(),
    }
    producer.outcome = lambda index: outcomes.get(index, "ack")
    publisher = Publisher(settings(), lambda: producer)
    await publisher.start()
    await until(lambda: publisher.connected)

    loop = asyncio.get_running_loop()
    started = loop.time()
    results = await publisher.publish_many("t", [RECORD] * 5)

    assert loop.time() - started < 2.0
    assert len(producer.sent) == 5
    assert results[0] == Delivery("t", 2, 100)
    assert isinstance(results[1], RecordRejectedError)
    assert isinstance(results[2], KafkaUnavailableError)
    assert isinstance(results[3], KafkaUnavailableError)
    assert results[4] == Delivery("t", 2, 104)
    await publisher.stop()


async def test_fatal_send_error_replaces_the_producer() -> None:
    made: list[FakeProducer] = []

    def factory() -> Any:
        made.append(FakeProducer())
        if len(made) == 1:
            made[0].outcome = lambda _: OutOfOrderSequenceNumber()
        return made[-1]

    publisher = Publisher(settings(), factory)
    await publisher.start()
    await until(lambda: publisher.connected)

    (failed,) = await publisher.publish_many("t", [RECORD])
    assert isinstance(failed, KafkaUnavailableError)
    await until(lambda: len(made) == 2 and publisher.connected)
    assert made[0].stopped
    assert await publisher.publish_many("t", [RECORD]) == [Delivery("t", 2, 100)]
    await publisher.stop()


async def test_ready_is_bounded_and_follows_the_broker() -> None:
    producer = FakeProducer()
    publisher = Publisher(settings(), lambda: producer)
    assert await publisher.ready() is False

    await publisher.start()
    await until(lambda: publisher.connected)
    assert await publisher.ready() is True
    producer.client.answer = False
    assert await publisher.ready() is False
    producer.client.answer = None
    assert await asyncio.wait_for(publisher.ready(), timeout=2.0) is False
    await publisher.stop()
    assert await publisher.ready() is False
