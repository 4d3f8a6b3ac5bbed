"""Session fixtures: a real Kafka broker and a real PostgreSQL server for every test that asks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.infra import (
    Infra,
    ProcessControlUnavailable,
    create_database,
    drop_database,
    resolve_infra,
)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SAMPLE = SHARED / "samples" / "kherson-surrender-2022-09-13.txt"


@pytest.fixture(scope="session")
def _infra() -> Iterator[Infra]:
    with resolve_infra() as infra:
        yield infra


@pytest.fixture(scope="session")
def infra(_infra: Infra) -> Infra:
    """Start/stop control over the broker and database (skips when they are external)."""
    if _infra.kind == "external":
        pytest.skip(str(ProcessControlUnavailable("this test stops and starts Kafka/PostgreSQL")))
    return _infra


@pytest.fixture(scope="session")
def kafka_bootstrap(_infra: Infra) -> str:
    return _infra.kafka_bootstrap


@pytest.fixture(scope="session")
async def database_url(_infra: Infra) -> AsyncIterator[str]:
    """A fresh database for this test session, migrated to the newest revision."""
    from newsflow_enrich.migrate import upgrade

    url = await create_database(_infra.server_url)
    await asyncio.to_thread(upgrade, url)
    yield url
    await drop_database(_infra.server_url, url)


@pytest.fixture(scope="session")
def sample_text() -> str:
    return SAMPLE.read_text(encoding="utf-8")
