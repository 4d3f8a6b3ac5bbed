"""The test harness talks to a real broker and a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from newsflow_enrich.db.migrate import downgrade, upgrade
from newsflow_local.kafka import DEFAULT_PARTITIONS
from newsflow_schema import topics
from tests.infra import Infra, create_database, drop_database

pytestmark = pytest.mark.integration

TABLES = {"articles", "entities", "article_entities", "quotes", "stances", "outbox"}


async def test_kafka_round_trip_with_acks_all(kafka_bootstrap: str) -> None:
    key = uuid.uuid4().hex.encode()
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        meta = await producer.send_and_wait(
            topics.RAW, b'{"hello": "kafka"}', key=key, headers=[("ce_id", b"1")]
        )
    finally:
        await producer.stop()
    assert meta.topic == topics.RAW
    assert meta.offset >= 0

    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topics.RAW, meta.partition)
        consumer.assign([tp])
        consumer.seek(tp, meta.offset)
        batch = await asyncio.wait_for(consumer.getmany(tp, timeout_ms=10_000), timeout=15)
    finally:
        await consumer.stop()
    records = batch[tp]
    assert records[0].key == key
    assert records[0].value == b'{"hello": "kafka"}'
    assert ("ce_id", b"1") in list(records[0].headers)


async def test_topics_exist_with_partitions(kafka_bootstrap: str) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap)
    await consumer.start()
    try:
        for topic in topics.ALL:
            partitions = consumer.partitions_for_topic(topic)
            if partitions is None:
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(topic)
            assert partitions is not None and len(partitions) == DEFAULT_PARTITIONS, topic
    finally:
        await consumer.stop()


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    return {r["tablename"] for r in rows}


async def test_alembic_upgrade_and_downgrade(_infra: Infra) -> None:
    url = await create_database(_infra.server_url, prefix="newsflow_migrations")
    try:
        assert not TABLES & await _tables(url)
        await asyncio.to_thread(upgrade, url)
        assert TABLES <= await _tables(url)
        await asyncio.to_thread(downgrade, url, "base")
        assert not TABLES & await _tables(url)
        await asyncio.to_thread(upgrade, url)
        assert TABLES <= await _tables(url)
    finally:
        await drop_database(_infra.server_url, url)


async def test_session_database_is_migrated(database_url: str) -> None:
    assert TABLES <= await _tables(database_url)
