"""Session fixtures: a real Kafka broker and a real PostgreSQL server for every test that asks."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from newsflow_enrich.db.migrate import upgrade
from newsflow_local.procs import kill_all
from newsflow_local.stack import RunnerSettings, Services
from tests.infra import (
    Infra,
    ProcessControlUnavailable,
    create_database,
    drop_database,
    resolve_infra,
)
from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
# The sample article ships with the tests: a clone without ../shared still runs them.
SAMPLE = REPO / "tests" / "data" / "samples" / "kherson-surrender-2022-09-13.txt"


@pytest.fixture(scope="session")
def _infra() -> Iterator[Infra]:
    with resolve_infra() as infra:
        yield infra


@pytest.fixture(scope="session")
def owned_infra(_infra: Infra) -> Infra:
    """Start/stop control over the broker and database (skips when they are external)."""
    if _infra.kind == "external":
        pytest.skip(str(ProcessControlUnavailable("this test stops and starts Kafka/PostgreSQL")))
    return _infra


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
    url = await create_database(_infra.server_url)
    await asyncio.to_thread(upgrade, url)
    yield url
    await drop_database(_infra.server_url, url)


@pytest.fixture(scope="session")
def sample_text() -> str:
    return SAMPLE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
async def services(
    _infra: Infra, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Services]:
    """Ingest and enrich as real processes on free ports, with a database of their own.

    Module-scoped: the enrich process consumes everything on the raw topic, so it must be
    gone before other modules (the fault scenarios) count events on the enriched topic.
    """
    url = await create_database(_infra.server_url, prefix="newsflow_e2e")
    await asyncio.to_thread(upgrade, url)
    state = tmp_path_factory.mktemp("services")
    running = Services(
        state=state,
        kafka_bootstrap=_infra.kafka_bootstrap,
        database_url=url,
        settings=RunnerSettings(INGEST_PORT=free_port(), ENRICH_PORT=free_port()),
    )
    try:
        await asyncio.to_thread(running.start, "enrich", ENRICH_GROUP_ID=f"e2e-{uuid.uuid4().hex}")
        await asyncio.to_thread(running.start, "ingest")
        yield running
    finally:
        await asyncio.to_thread(running.stop, "ingest")
        await asyncio.to_thread(running.stop, "enrich")
        kill_all(state)
        await drop_database(_infra.server_url, url)
