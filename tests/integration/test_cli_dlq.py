"""`newsflow dlq` on a real broker: DLQ records shaped by the consumer's own builder are
listed, shown and redriven; the original raw record reappears on the raw topic byte for byte."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from typer.testing import CliRunner

from newsflow_cli.app import app
from newsflow_enrich.pipeline import Failure, RecordRef
from newsflow_enrich.stream.deadletter import dead_letter
from newsflow_schema import ArticleRawEvent, OriginalContent, content_hash, encode, topics
from newsflow_schema.cloudevents import encode_headers

pytestmark = pytest.mark.integration

Headers = list[tuple[str, bytes]]


def raw_event(title: str) -> ArticleRawEvent:
    body = f"{title}: the body of a dead-lettered article."
    return ArticleRawEvent(
        article_id=uuid.uuid4(),
        title=title,
        body=body,
        source="cli-dlq-test",
        content_hash=content_hash(title, body),
        original=OriginalContent(format="text", content=body),
    )


async def send(
    bootstrap: str, topic: str, key: bytes, value: bytes, headers: Headers
) -> tuple[int, int]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        meta = await producer.send_and_wait(topic, value, key=key, headers=headers)
        return int(meta.partition), int(meta.offset)
    finally:
        await producer.stop()


async def publish_failed(
    bootstrap: str, reason: str, *, offset: int | None = None, value_max_bytes: int = 65_536
) -> tuple[ArticleRawEvent, bytes, Headers, int]:
    """A raw record on the raw topic and the DLQ record the consumer would write for it."""
    event = raw_event(f"Dead letter {uuid.uuid4().hex[:6]}")
    key, value = str(event.article_id).encode(), encode(event)
    headers = [*encode_headers(event, source="/test/ingest"), ("traceparent-x", b"\x00\x01")]
    partition, raw_offset = await send(bootstrap, topics.RAW, key, value, headers)
    ref = RecordRef(topics.RAW, partition, offset if offset is not None else raw_offset, key, value)
    failure = Failure(ref, reason, "nlp", "NLP took 31.0 s, over the 30 s budget", attempts=3)
    dlq_value, dlq_headers = dead_letter(
        failure, consumer_group="enrich", value_max_bytes=value_max_bytes, source="/test/enrich"
    )
    await send(bootstrap, topics.DLQ, key, dlq_value, dlq_headers)
    return event, value, headers, raw_offset


async def raw_records_after(
    bootstrap: str, start: dict[int, int], key: bytes
) -> list[tuple[bytes | None, Headers]]:
    """Records with `key` on the raw topic past `start` (partition -> offset)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(topics.RAW, p) for p in start]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, start[tp.partition])
        found = []
        for _ in range(5):
            batches = await consumer.getmany(*tps, timeout_ms=1000)
            for records in batches.values():
                found += [(r.value, list(r.headers)) for r in records if r.key == key]
            if found:
                return found
        return found
    finally:
        await consumer.stop()


async def raw_ends(bootstrap: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        tps = [
            TopicPartition(topics.RAW, p) for p in consumer.partitions_for_topic(topics.RAW) or ()
        ]
        assert tps, "the raw topic has no partitions"
        return {tp.partition: o for tp, o in (await consumer.end_offsets(tps)).items()}
    finally:
        await consumer.stop()


def cli(bootstrap: str, *args: str) -> Any:
    runner = CliRunner(env={"COLUMNS": "200", "KAFKA_BOOTSTRAP_SERVERS": bootstrap})
    result = runner.invoke(app, ["dlq", *args])
    print(f"$ newsflow dlq {' '.join(args)}\n{result.output}")
    return result


def test_list_show_and_redrive_one_record(kafka_bootstrap: str) -> None:
    reason = f"test-{uuid.uuid4().hex[:8]}"
    event, value, headers, _ = asyncio.run(publish_failed(kafka_bootstrap, reason))
    article = str(event.article_id)

    listed = cli(kafka_bootstrap, "list", "--reason", reason)
    assert listed.exit_code == 0, listed.output
    assert article in listed.output and "1 record on the DLQ" in listed.output

    recent = cli(kafka_bootstrap, "list", "--reason", reason, "--since", "1h", "--json")
    assert recent.exit_code == 0 and article in recent.output
    assert cli(kafka_bootstrap, "list", "--since", "not-a-time").exit_code == 1

    shown = cli(kafka_bootstrap, "show", article)
    assert shown.exit_code == 0, shown.output
    assert reason in shown.output and "over the 30 s budget" in shown.output

    before = asyncio.run(raw_ends(kafka_bootstrap))
    redriven = cli(kafka_bootstrap, "redrive", article)
    assert redriven.exit_code == 0, redriven.output
    assert "Redrove 1 record" in redriven.output and "0 skipped" in redriven.output

    again = asyncio.run(raw_records_after(kafka_bootstrap, before, article.encode()))
    # The original value and headers, byte for byte, keyed by the article id.
    assert again == [(value, headers)]


def test_redrive_by_reason_uses_the_copy_when_the_raw_record_is_gone(
    kafka_bootstrap: str,
) -> None:
    reason = f"test-{uuid.uuid4().hex[:8]}"
    # Offsets far past the end stand for records removed by retention.
    whole, whole_value, _, _ = asyncio.run(publish_failed(kafka_bootstrap, reason, offset=10**9))
    cut, _, _, _ = asyncio.run(
        publish_failed(kafka_bootstrap, reason, offset=10**9 + 1, value_max_bytes=10)
    )
    before = asyncio.run(raw_ends(kafka_bootstrap))
    result = cli(kafka_bootstrap, "redrive", "--reason", reason)
    assert result.exit_code == 1, result.output
    assert "Redrove 1 record" in result.output and "(1 from the DLQ's copy)" in result.output
    assert "1 skipped" in result.output

    key = str(whole.article_id).encode()
    assert [v for v, _ in asyncio.run(raw_records_after(kafka_bootstrap, before, key))] == [
        whole_value
    ]
    assert (
        asyncio.run(raw_records_after(kafka_bootstrap, before, str(cut.article_id).encode())) == []
    )


def test_redrive_needs_exactly_one_target(kafka_bootstrap: str) -> None:
    assert cli(kafka_bootstrap, "redrive").exit_code == 1
    assert cli(kafka_bootstrap, "redrive", "--all", "--reason", "x").exit_code == 1
    missing = cli(kafka_bootstrap, "show", str(uuid.uuid4()))
    assert missing.exit_code == 1 and "no DLQ record" in missing.output
