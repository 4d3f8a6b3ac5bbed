"""`newsflow tail` on a real broker: group resume, --max leaving the rest unread, dedupe, skips."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from newsflow_cli.filters import EventFilter
from newsflow_cli.settings import Settings
from newsflow_cli.tail import TailOptions, TailResult, tail
from newsflow_schema import ArticleEnrichedEvent, encode, topics

pytestmark = pytest.mark.integration

DEADLINE_S = 60.0


def event(article_id: uuid.UUID, title: str) -> ArticleEnrichedEvent:
    return ArticleEnrichedEvent(
        article_id=article_id,
        raw_event_id=uuid.uuid4(),
        title=title,
        source="cli-tail-test",
        content_hash="0" * 64,
    )


async def start_group_at_end(bootstrap: str, group: str) -> None:
    """Commit `group`'s position at the topic's end, as a first `tail` would leave it."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topics.ENRICHED) or set()
        tps = [TopicPartition(topics.ENRICHED, p) for p in sorted(partitions)]
        assert tps, "the enriched topic has no partitions"
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.commit(dict(ends))
    finally:
        await consumer.stop()


async def publish(bootstrap: str, key: uuid.UUID, values: list[bytes]) -> None:
    """Records on one key, so one partition, in this order."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topics.ENRICHED, value, key=str(key).encode())
    finally:
        await producer.stop()


async def run_tail(
    bootstrap: str, group: str, article: uuid.UUID, max_events: int
) -> tuple[list[str], TailResult, list[str]]:
    shown: list[str] = []
    warnings: list[str] = []
    result = await tail(
        Settings(kafka_bootstrap_servers=bootstrap),
        TailOptions(group=group, from_beginning=False, max_events=max_events, timeout_s=DEADLINE_S),
        EventFilter(article=str(article), entity=None),
        lambda e, _: shown.append(e.title or ""),
        warnings.append,
    )
    return shown, result, warnings


async def test_group_tail_resumes_after_what_it_showed(kafka_bootstrap: str) -> None:
    group = f"cli-tail-{uuid.uuid4().hex[:8]}"
    article = uuid.uuid4()
    await start_group_at_end(kafka_bootstrap, group)
    other = encode(event(uuid.uuid4(), "another article"))
    b = encode(event(article, "B"))
    await publish(
        kafka_bootstrap,
        article,
        [other, b"not json", b, b, encode(event(article, "C")), encode(event(article, "D"))],
    )

    shown, result, warnings = await run_tail(kafka_bootstrap, group, article, 2)
    assert shown == ["B", "C"]
    assert (result.skipped, result.undecodable, result.duplicates) == (1, 1, 1)
    assert len(warnings) == 1 and "not a valid ArticleEnrichedEvent" in warnings[0]
    assert not result.timed_out

    # D was fetched with the others but not shown: the group's next tail starts at it.
    shown, result, _ = await run_tail(kafka_bootstrap, group, article, 1)
    assert shown == ["D"]

    await publish(kafka_bootstrap, article, [encode(event(article, "E"))])
    shown, _, _ = await run_tail(kafka_bootstrap, group, article, 1)
    assert shown == ["E"]


async def test_from_beginning_reads_events_published_before_it_started(
    kafka_bootstrap: str,
) -> None:
    article = uuid.uuid4()
    first = event(article, "old")
    await publish(kafka_bootstrap, article, [encode(first)])
    shown: list[ArticleEnrichedEvent] = []
    result = await tail(
        Settings(kafka_bootstrap_servers=kafka_bootstrap),
        TailOptions(group=None, from_beginning=True, max_events=1, timeout_s=DEADLINE_S),
        EventFilter(article=str(article)),
        lambda e, _: shown.append(e),
        lambda m: None,
    )
    assert [e.event_id for e in shown] == [first.event_id] and result.shown == 1
