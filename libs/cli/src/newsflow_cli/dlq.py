"""The dead-letter topic as the CLI sees it: read and select DLQ records, redrive them.

Everything is read from the DLQ topic itself, not from the read API: it holds what a
redrive needs (the original coordinates, key and a copy of the value), including records
that never had a decodable article id, and it works while enrich is down.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord

from newsflow_cli.settings import Settings
from newsflow_schema import DeadLetterEvent, topics
from newsflow_schema.codec import DecodeError, decode

Headers = list[tuple[str, bytes]]

# How long one fetch waits for records before the read is taken as caught up.
FETCH_MS = 1000


@dataclass(frozen=True, slots=True)
class DlqRecord:
    """One record of the DLQ topic, decoded."""

    partition: int
    offset: int
    timestamp: datetime
    key: str | None
    event: DeadLetterEvent

    @property
    def where(self) -> str:
        return f"{self.partition}:{self.offset}"


@dataclass(slots=True)
class DlqRead:
    records: list[DlqRecord] = field(default_factory=list)
    # DLQ records that are not DeadLetterEvents (written by something else): "P:O: why".
    unreadable: list[str] = field(default_factory=list)


def consumer_for(settings: Settings) -> AIOKafkaConsumer:
    # No group: reading the DLQ must never move anyone's committed offsets.
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id="newsflow-cli-dlq",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )


def producer_for(settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id="newsflow-cli-redrive",
        acks="all",
        enable_idempotence=True,
        max_request_size=4 * 1024 * 1024,
    )


async def _drain(
    consumer: AIOKafkaConsumer,
    end: dict[TopicPartition, int],
    on_record: Callable[[ConsumerRecord[bytes, bytes]], None],
) -> None:
    """Read every assigned partition up to `end` (the offsets when the read began)."""
    pending = {tp for tp, last in end.items() if await consumer.position(tp) < last}
    while pending:
        batches = await consumer.getmany(*pending, timeout_ms=FETCH_MS)
        for tp, records in batches.items():
            for record in records:
                if record.offset < end[tp]:
                    on_record(record)
        pending = {tp for tp in pending if await consumer.position(tp) < end[tp]}


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    # A consumer with no subscription knows no partitions until its metadata is refreshed;
    # aiokafka's public `topics()` fetches metadata without keeping it.
    await consumer._client.force_metadata_update()
    return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]


async def read_dlq(
    settings: Settings, *, reason: str | None = None, since: datetime | None = None
) -> DlqRead:
    """Every DLQ record (written at or after `since`, with this `reason`), oldest first."""
    result = DlqRead()

    def keep(record: ConsumerRecord[bytes, bytes]) -> None:
        where = f"{record.partition}:{record.offset}"
        try:
            event = decode(DeadLetterEvent, record.value)
        except DecodeError as exc:
            result.unreadable.append(f"{where}: {exc}")
            return
        if reason is not None and event.reason != reason:
            return
        key = record.key.decode("utf-8", "replace") if record.key else None
        when = datetime.fromtimestamp(record.timestamp / 1000, UTC)
        result.records.append(DlqRecord(record.partition, record.offset, when, key, event))

    consumer = consumer_for(settings)
    await consumer.start()
    try:
        tps = await _partitions(consumer, topics.DLQ)
        if not tps:
            return result
        consumer.assign(tps)
        end = await consumer.end_offsets(tps)
        await _seek_start(consumer, tps, since)
        await _drain(consumer, end, keep)
    finally:
        await consumer.stop()
    result.records.sort(key=lambda r: (r.timestamp, r.partition, r.offset))
    return result


async def _seek_start(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition], since: datetime | None
) -> None:
    if since is None:
        await consumer.seek_to_beginning(*tps)
        return
    found = await consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in tps})
    end = await consumer.end_offsets(tps)
    for tp in tps:
        hit = found.get(tp)
        consumer.seek(tp, hit.offset if hit is not None else end[tp])


def select(records: Sequence[DlqRecord], target: str) -> list[DlqRecord]:
    """The records `target` names: an article id (its latest DLQ record) or `[P:]offset`."""
    try:
        ident = str(uuid.UUID(target))
    except ValueError:
        partition, _, offset = target.rpartition(":")
        try:
            wanted = (int(partition or 0), int(offset))
        except ValueError:
            return []
        return [r for r in records if (r.partition, r.offset) == wanted]
    same = [r for r in records if r.key == ident or r.event.original_key == ident]
    return same[-1:]


def latest_per_article(records: Sequence[DlqRecord]) -> list[DlqRecord]:
    """One record per article id, its latest; records without a key each stand alone."""
    latest: dict[str, DlqRecord] = {}
    for record in records:
        key = record.event.original_key or record.key or f"@{record.where}"
        latest[key] = record
    return sorted(latest.values(), key=lambda r: (r.timestamp, r.partition, r.offset))


@dataclass(slots=True)
class RedriveReport:
    # "where -> article id" of each record sent, from the raw topic or the DLQ's copy.
    from_raw: list[str] = field(default_factory=list)
    from_copy: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


async def _original(
    consumer: AIOKafkaConsumer, topic: str, partition: int, offset: int
) -> tuple[bytes | None, bytes | None, Headers] | None:
    """Key, value and headers of the original record, or None when retention removed it."""
    tp = TopicPartition(topic, partition)
    consumer.assign([tp])
    first = (await consumer.beginning_offsets([tp]))[tp]
    end = (await consumer.end_offsets([tp]))[tp]
    if not first <= offset < end:
        return None
    consumer.seek(tp, offset)
    while True:
        batch = await consumer.getmany(tp, timeout_ms=FETCH_MS, max_records=1)
        for record in batch.get(tp, []):
            if record.offset == offset:
                return record.key, record.value, [(k, bytes(v)) for k, v in record.headers]
            return None
        if await consumer.position(tp) > offset:
            return None


def _copy(record: DlqRecord) -> tuple[bytes | None, bytes | None, Headers] | None:
    """The DLQ's own copy of the original value, when it was not cut; no original headers."""
    event = record.event
    if event.original_value_truncated:
        return None
    key = event.original_key.encode() if event.original_key else None
    return key, base64.b64decode(event.original_value_b64), []


async def redrive(
    settings: Settings,
    records: Sequence[DlqRecord],
    *,
    on_progress: Callable[[], None] = lambda: None,
) -> RedriveReport:
    """Publish each record's original raw event (value, headers, key) to the raw topic again.

    The original comes from the raw topic at its recorded offset, byte for byte; when
    retention removed it, from the DLQ's copy if that is whole. The key is the article id,
    so the write path treats the redrive as a redelivery and clears the failure on success.
    """
    report = RedriveReport()
    consumer = consumer_for(settings)
    producer = producer_for(settings)
    await consumer.start()
    await producer.start()
    try:
        for record in records:
            event = record.event
            found = await _original(
                consumer, event.original_topic, event.original_partition, event.original_offset
            )
            sink = report.from_raw
            if found is None:
                found, sink = _copy(record), report.from_copy
            if found is None:
                report.skipped.append(
                    (record.where, "the raw record is gone and the DLQ copy is truncated")
                )
            else:
                key, value, headers = found
                await producer.send_and_wait(topics.RAW, value, key=key, headers=headers)
                sink.append(f"{record.where} -> {key.decode('utf-8', 'replace') if key else '-'}")
            on_progress()
    finally:
        await producer.stop()
        await consumer.stop()
    return report
