"""Subscribing to the enriched topic: own consumer group or from the beginning, filtered."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from newsflow_cli.filters import EventFilter
from newsflow_cli.settings import Settings
from newsflow_schema import ArticleEnrichedEvent, DecodeError, decode, topics

POLL_MS = 500


@dataclass(frozen=True, slots=True)
class TailOptions:
    group: str | None
    from_beginning: bool
    max_events: int | None
    timeout_s: float | None


@dataclass(slots=True)
class TailResult:
    shown: int = 0
    skipped: int = 0
    duplicates: int = 0
    undecodable: int = 0
    timed_out: bool = False


@dataclass
class _Shower:
    """Decodes, dedupes, filters and shows records; counts what it did in `result`."""

    event_filter: EventFilter
    emit: Callable[[ArticleEnrichedEvent, bytes], None]
    warn: Callable[[str], None]
    max_events: int | None
    result: TailResult = field(default_factory=TailResult)
    # The outbox relay may publish an event twice after a crash; subscribers dedupe on it.
    seen: set[uuid.UUID] = field(default_factory=set)

    def full(self) -> bool:
        return self.max_events is not None and self.result.shown >= self.max_events

    def handle(self, value: bytes | None, where: str) -> None:
        try:
            event = decode(ArticleEnrichedEvent, value)
        except DecodeError as exc:
            self.result.undecodable += 1
            self.warn(f"skipping {where}: {exc}")
            return
        if event.event_id in self.seen:
            self.result.duplicates += 1
            return
        self.seen.add(event.event_id)
        if not self.event_filter.matches(event):
            self.result.skipped += 1
            return
        assert value is not None
        self.emit(event, value)
        self.result.shown += 1


def _wait_ms(deadline: float | None) -> int | None:
    """How long the next fetch may wait; None once the deadline has passed."""
    if deadline is None:
        return POLL_MS
    left = deadline - time.monotonic()
    if left <= 0:
        return None
    return max(1, min(POLL_MS, int(left * 1000)))


async def tail(
    settings: Settings,
    options: TailOptions,
    event_filter: EventFilter,
    emit: Callable[[ArticleEnrichedEvent, bytes], None],
    warn: Callable[[str], None],
) -> TailResult:
    """Show matching events until `max_events` were shown or `timeout_s` passed."""
    in_group = not options.from_beginning
    consumer = AIOKafkaConsumer(
        topics.ENRICHED,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id="newsflow-cli-tail",
        # From the beginning reads everything and joins no group, so it commits nothing and
        # moves no one's offsets; a group tail resumes where the same group stopped.
        group_id=options.group if in_group else None,
        auto_offset_reset="latest" if in_group else "earliest",
        # Committed by hand: a fetched record that --max left unshown must stay unread.
        enable_auto_commit=False,
    )
    await consumer.start()
    shower = _Shower(event_filter, emit, warn, options.max_events)
    done: dict[TopicPartition, int] = {}
    deadline = None if options.timeout_s is None else time.monotonic() + options.timeout_s
    try:
        while not shower.full():
            wait_ms = _wait_ms(deadline)
            if wait_ms is None:
                shower.result.timed_out = True
                break
            batch = await consumer.getmany(timeout_ms=wait_ms)
            for tp, records in batch.items():
                for record in records:
                    if shower.full():
                        break
                    shower.handle(record.value, f"{tp.topic}[{tp.partition}]@{record.offset}")
                    done[tp] = record.offset + 1
            if in_group and done:
                await _commit(consumer, done, warn)
    finally:
        # Also on Ctrl-C: a group tail commits what it showed.
        if in_group and done:
            await _commit(consumer, done, warn)
        await consumer.stop()
    return shower.result


async def _commit(
    consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int], warn: Callable[[str], None]
) -> None:
    try:
        await consumer.commit(dict(offsets))
    except KafkaError as exc:
        # The events were shown; at worst the next tail of this group shows them again.
        warn(f"could not commit the group's position: {exc!r}")
