"""While a batch is in hand the consumer keeps polling, paused, so the group keeps it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import TopicPartition

from newsflow_enrich.stream.consumer import keep_polling

pytestmark = pytest.mark.unit

OLD = TopicPartition("news.articles.raw.v1", 0)
NEW = TopicPartition("news.articles.raw.v1", 1)


@dataclass
class Record:
    offset: int


@dataclass
class FakeConsumer:
    """Assigned OLD; NEW arrives by a rebalance during the first poll, with records ready."""

    assigned: set[TopicPartition] = field(default_factory=lambda: {OLD})
    paused_tps: set[TopicPartition] = field(default_factory=set)
    polls: int = 0
    seeks: list[tuple[TopicPartition, int]] = field(default_factory=list)
    polled_thrice: asyncio.Event = field(default_factory=asyncio.Event)

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def pause(self, *tps: TopicPartition) -> None:
        self.paused_tps.update(tps)

    async def getmany(self, timeout_ms: int = 0) -> dict[TopicPartition, list[Any]]:
        self.polls += 1
        if self.polls >= 3:
            self.polled_thrice.set()
        self.assigned.add(NEW)
        return {tp: [Record(40), Record(41)] for tp in self.assigned - self.paused_tps}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))


async def test_polls_paused_and_hands_back_records_of_a_partition_assigned_meanwhile() -> None:
    consumer = FakeConsumer()
    task = asyncio.create_task(keep_polling(consumer, 0.01))  # type: ignore[arg-type]
    try:
        await asyncio.wait_for(consumer.polled_thrice.wait(), 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    # OLD was paused before every poll, so nothing of it came back. NEW came with the
    # first poll, unpaused: its records are handed back (seek to the first) and it is
    # paused from the next poll on.
    assert consumer.paused_tps == {OLD, NEW}
    assert consumer.seeks == [(NEW, 40)]
