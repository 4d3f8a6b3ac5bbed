"""Kafka helpers of the bench: the bare baseline producer, reading back records, group offsets."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata

from newsflow_ingest.producer import make_producer
from newsflow_ingest.settings import Settings as IngestSettings


@dataclass(frozen=True, slots=True)
class RawRecord:
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def baseline_producer(bootstrap: str) -> AIOKafkaProducer:
    """Built by ingest's own factory, so acks, idempotence, linger and compression match."""
    return make_producer(IngestSettings(kafka_bootstrap_servers=bootstrap))


async def _stop(consumer: AIOKafkaConsumer) -> None:
    # aiokafka's stop() awaits a task that start() created; stopping before that task ever
    # ran re-raises its cancellation, so let it run once first.
    await asyncio.sleep(0)
    await consumer.stop()


async def read_range(
    bootstrap: str,
    start: dict[TopicPartition, int],
    end: dict[TopicPartition, int],
    *,
    timeout_s: float = 60.0,
) -> list[RawRecord]:
    """Every record between `start` and `end` offsets (per partition)."""
    wanted = {tp: end[tp] - start.get(tp, 0) for tp in end}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    records: list[RawRecord] = []
    try:
        consumer.assign(list(end))
        for tp in end:
            consumer.seek(tp, start.get(tp, 0))
        deadline = time.monotonic() + timeout_s
        got = dict.fromkeys(end, 0)
        while any(got[tp] < wanted[tp] for tp in end):
            if time.monotonic() > deadline:
                raise TimeoutError(f"read {sum(got.values())} of {sum(wanted.values())} records")
            batch = await consumer.getmany(timeout_ms=500)
            for tp, messages in batch.items():
                for message in messages:
                    if message.offset >= end[tp]:
                        continue
                    got[tp] += 1
                    records.append(
                        RawRecord(
                            key=message.key or b"",
                            value=message.value or b"",
                            headers=[(k, v) for k, v in message.headers],
                        )
                    )
        return records
    finally:
        await _stop(consumer)


async def commit_group_at(
    bootstrap: str, group_id: str, offsets: dict[TopicPartition, int]
) -> None:
    """Start consumer group `group_id` at `offsets`, so it skips what earlier benches wrote."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()})
    finally:
        await _stop(consumer)


class GroupWatcher:
    """Polls a consumer group's committed offsets and state (admin API)."""

    def __init__(self, bootstrap: str, group_id: str) -> None:
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self._group = group_id

    async def __aenter__(self) -> GroupWatcher:
        await self._admin.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._admin.close()

    async def committed(self) -> dict[TopicPartition, int]:
        offsets = await self._admin.list_consumer_group_offsets(self._group)
        return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}

    async def stable(self) -> bool:
        """Whether the group has members and finished its rebalance (so it is fetching)."""
        responses = await self._admin.describe_consumer_groups([self._group])
        for response in responses:
            for group in response.groups:
                # (error_code, group_id, state, protocol_type, protocol, members, ...)
                if group[1] == self._group and group[2] == "Stable" and group[5]:
                    return True
        return False
