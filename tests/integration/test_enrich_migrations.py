"""Enrich's Alembic migrations on a real PostgreSQL: they match the models and downgrade cleanly."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from newsflow_enrich.db.migrate import downgrade, upgrade
from newsflow_enrich.db.models import Base
from tests.infra import create_database, drop_database

pytestmark = pytest.mark.integration

TABLES = {
    "articles",
    "entities",
    "article_entities",
    "quotes",
    "stances",
    "outbox",
    "article_failures",
}


def _diff_and_tables(conn: Connection) -> tuple[list[Any], set[str]]:
    context = MigrationContext.configure(conn)
    return compare_metadata(context, Base.metadata), set(inspect(conn).get_table_names())


async def _inspect(url: str) -> tuple[list[Any], set[str]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_diff_and_tables)
    finally:
        await engine.dispose()


async def test_migrations_match_the_models_and_round_trip(database_url: str) -> None:
    url = await create_database(database_url, prefix="enrich_migrations")
    try:
        await asyncio.to_thread(upgrade, url)
        diff, tables = await _inspect(url)
        assert TABLES <= tables
        assert diff == [], f"models and migrations differ: {diff}"

        await asyncio.to_thread(downgrade, url, "base")
        _, tables = await _inspect(url)
        assert tables.isdisjoint(TABLES)

        await asyncio.to_thread(upgrade, url)
        _, tables = await _inspect(url)
        assert TABLES <= tables
    finally:
        await drop_database(database_url, url)


async def test_outbox_headers_become_the_bytes_sent_and_back(database_url: str) -> None:
    url = await create_database(database_url, prefix="enrich_migrations")
    pairs = [["ce_id", "3f0c"], ["traceparent", "00-ab-cd-01"], ["ce_subject", "Київ"]]
    engine = create_async_engine(url)
    try:
        await asyncio.to_thread(upgrade, url, "0002")
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO outbox (event_id, article_id, topic, key, payload, headers) "
                    "VALUES (gen_random_uuid(), gen_random_uuid(), 't', 'k', '\\x7b7d', "
                    "CAST(:headers AS jsonb))"
                ),
                {"headers": json.dumps(pairs)},
            )
        await asyncio.to_thread(upgrade, url)
        async with engine.connect() as conn:
            row = (await conn.execute(text("SELECT header_names, header_values FROM outbox"))).one()
        assert list(row.header_names) == [n for n, _ in pairs]
        assert [bytes(v) for v in row.header_values] == [v.encode() for _, v in pairs]

        await asyncio.to_thread(downgrade, url, "0002")
        async with engine.connect() as conn:
            back = await conn.scalar(text("SELECT headers FROM outbox"))
        assert back == pairs
    finally:
        await engine.dispose()
        await drop_database(database_url, url)


async def test_entity_rollups_get_their_entitys_label_and_lose_it_on_downgrade(
    database_url: str,
) -> None:
    url = await create_database(database_url, prefix="enrich_migrations")
    engine = create_async_engine(url)
    try:
        await asyncio.to_thread(upgrade, url, "0005")
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO entities (name, label) VALUES ('Kherson', 'GPE'), "
                    "('Putin', 'PERSON')"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO entity_trends (grain, bucket, entity_id, mentions, articles) "
                    "SELECT g, '2026-05-04T00:00Z', entity_id, 3, 2 FROM entities "
                    "CROSS JOIN unnest(ARRAY['hour', 'day']) g"
                )
            )
        await asyncio.to_thread(upgrade, url)
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT e.name, t.grain, t.label, t.mentions, t.articles "
                        "FROM entity_trends t JOIN entities e USING (entity_id) ORDER BY 1, 2"
                    )
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            ("Kherson", "day", "GPE", 3, 2),
            ("Kherson", "hour", "GPE", 3, 2),
            ("Putin", "day", "PERSON", 3, 2),
            ("Putin", "hour", "PERSON", 3, 2),
        ]

        await asyncio.to_thread(downgrade, url, "0005")
        async with engine.connect() as conn:
            columns = await conn.scalar(
                text(
                    "SELECT array_agg(column_name::text ORDER BY column_name) "
                    "FROM information_schema.columns WHERE table_name = 'entity_trends'"
                )
            )
            count = await conn.scalar(text("SELECT count(*) FROM entity_trends"))
        assert columns == ["articles", "bucket", "entity_id", "grain", "mentions"]
        assert count == 4
    finally:
        await engine.dispose()
        await drop_database(database_url, url)
