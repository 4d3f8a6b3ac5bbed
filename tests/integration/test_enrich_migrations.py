"""Enrich's Alembic migrations on a real PostgreSQL: they match the models and downgrade cleanly."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from newsflow_enrich.db.migrate import downgrade, upgrade
from newsflow_enrich.db.models import Base
from tests.infra import create_database, drop_database

pytestmark = pytest.mark.integration

TABLES = {"articles", "entities", "article_entities", "quotes", "stances", "outbox"}


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
