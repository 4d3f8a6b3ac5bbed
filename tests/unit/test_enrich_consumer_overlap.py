"""The consumer loop overlaps one batch's NLP with the previous batch's writes, in order."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import TopicPartition

from newsflow_enrich.metrics import Metrics
from newsflow_enrich.pipeline import RecordRef
from newsflow_enrich.settings import Settings
from newsflow_enrich.stream.batch import Done, Prepared, Retry, next_offsets
from newsflow_enrich.stream.consumer import EnrichConsumer
from newsflow_schema.http import DatabaseUnavailable

pytestmark = pytest.mark.unit

TP = TopicPartition("news.articles.raw.v1", 0)


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None = b"k"
    value: bytes | None = b"{}"
    headers: tuple[tuple[str, bytes], ...] = ()


def fetched(*offsets: int) -> dict[TopicPartition, list[Any]]:
    return {TP: [Record(TP.topic, TP.partition, o) for o in offsets]}


@dataclass
class FakeKafka:
    commits: list[int] = field(default_factory=list)
    seeks: list[int] = field(default_factory=list)

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def paused(self) -> set[TopicPartition]:
        return set()

    def pause(self, *tps: TopicPartition) -> None: ...

    def resume(self, *tps: TopicPartition) -> None: ...

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append(offset)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(offsets[TP])

    def highwater(self, tp: TopicPartition) -> int:
        return 100


@dataclass
class FakeHandler:
    """Records when each half runs; the write of a batch can be held or made to fail."""

    events: list[str] = field(default_factory=list)
    release: dict[int, asyncio.Event] = field(default_factory=dict)
    outage_on: set[int] = field(default_factory=set)
    prepared: dict[int, asyncio.Event] = field(default_factory=dict)

    async def prepare(self, records: Sequence[RecordRef]) -> Prepared | Retry:
        first = records[0].offset
        self.events.append(f"nlp {first}")
        self.prepared.setdefault(first, asyncio.Event()).set()
        return Prepared(list(records), len(records), [], {}, [])

    async def finish(self, prepared: Prepared) -> Done | Retry:
        first = prepared.records[0].offset
        self.events.append(f"write {first} started")
        await self.release.setdefault(first, asyncio.Event()).wait()
        self.events.append(f"write {first} done")
        if first in self.outage_on:
            return Retry("database", DatabaseUnavailable())
        return Done([], [], 0, [], next_offsets(prepared.records))


def rig() -> tuple[EnrichConsumer, FakeKafka, FakeHandler]:
    consumer = EnrichConsumer(Settings(), engine=Any, nlp=Any, metrics=Metrics())  # type: ignore[arg-type]
    kafka, handler = FakeKafka(), FakeHandler()
    consumer._consumer = kafka  # type: ignore[assignment]
    consumer._handler = handler  # type: ignore[assignment]
    return consumer, kafka, handler


async def test_the_next_batch_runs_nlp_while_the_previous_one_is_written() -> None:
    consumer, kafka, handler = rig()
    await consumer.process(kafka, fetched(0, 1))  # type: ignore[arg-type]
    second = asyncio.create_task(consumer.process(kafka, fetched(2, 3)))  # type: ignore[arg-type]
    await asyncio.wait_for(handler.prepared.setdefault(2, asyncio.Event()).wait(), 5)
    # Batch 2's NLP ran while batch 0 was still being written; nothing committed yet.
    assert handler.events == ["nlp 0", "write 0 started", "nlp 2"]
    assert kafka.commits == []
    handler.release[0].set()
    await second
    handler.release.setdefault(2, asyncio.Event()).set()
    assert await consumer._settle()
    # Commits in batch order, each after its own write.
    assert kafka.commits == [2, 4]
    assert handler.events.index("write 0 done") < handler.events.index("write 2 started")


async def test_an_outage_writing_the_older_batch_sends_both_back() -> None:
    consumer, kafka, handler = rig()
    consumer._settings = Settings(retry_backoff_initial_s=0.01)
    consumer._backoff = 0.01
    handler.outage_on = {0}
    await consumer.process(kafka, fetched(0, 1))  # type: ignore[arg-type]
    handler.release.setdefault(0, asyncio.Event()).set()
    await consumer.process(kafka, fetched(2, 3))  # type: ignore[arg-type]
    # Nothing committed; the position goes back to the older batch's first record, and the
    # newer batch is not handed on to be written.
    assert kafka.commits == []
    assert min(kafka.seeks) == 0
    assert "write 2 started" not in handler.events
    assert consumer._writing is None
