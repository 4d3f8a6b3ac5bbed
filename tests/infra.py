"""Real Kafka and PostgreSQL for the tests: from env vars, testcontainers, or the local runner."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from newsflow_local.kafka import ensure_topics
from newsflow_local.paths import local_dir
from newsflow_local.stack import LocalStack, on_free_ports
from newsflow_schema import topics


class Infra(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def kafka_bootstrap(self) -> str: ...
    @property
    def server_url(self) -> str:
        """SQLAlchemy async URL of an existing database on the server."""
        ...

    def stop_kafka(self, *, hard: bool = False) -> None: ...
    def start_kafka(self) -> None: ...
    def stop_postgres(self, *, hard: bool = False) -> None: ...
    def start_postgres(self) -> None: ...
    def ensure_running(self) -> None:
        """Start whatever a failed test left stopped."""
        ...


class ProcessControlUnavailable(RuntimeError):
    """The services were given from outside; the tests cannot stop or start them."""


@dataclass
class ExternalInfra:
    kafka_bootstrap: str
    server_url: str
    kind: str = "external"

    def _refuse(self, *_: object, **__: object) -> None:
        raise ProcessControlUnavailable(
            "KAFKA_BOOTSTRAP_SERVERS/DATABASE_URL point at services this test run does not own"
        )

    stop_kafka = start_kafka = stop_postgres = start_postgres = _refuse

    def ensure_running(self) -> None:
        return None


@dataclass
class LocalInfra:
    stack: LocalStack
    kind: str = "local"

    @property
    def kafka_bootstrap(self) -> str:
        return self.stack.kafka_bootstrap

    @property
    def server_url(self) -> str:
        return self.stack.database_url()

    def stop_kafka(self, *, hard: bool = False) -> None:
        self.stack.stop_kafka(hard=hard)

    def start_kafka(self) -> None:
        self.stack.start_kafka()

    def stop_postgres(self, *, hard: bool = False) -> None:
        self.stack.stop_postgres(hard=hard)

    def start_postgres(self) -> None:
        self.stack.start_postgres()

    def ensure_running(self) -> None:
        running = self.stack.running()
        if not running["postgres"]:
            self.start_postgres()
        if not running["kafka"]:
            self.start_kafka()


def docker_engine_answers() -> bool:
    try:
        import docker
        from docker.errors import DockerException

        try:
            docker.from_env(timeout=3).ping()
        except DockerException:
            return False
    except ImportError:
        return False
    return True


@contextmanager
def local_infra() -> Iterator[LocalInfra]:
    stack = LocalStack(state=local_dir() / f"test-{os.getpid()}", settings=on_free_ports())
    try:
        stack.start_postgres()
        stack.start_kafka()
        yield LocalInfra(stack)
    finally:
        stack.destroy()


@contextmanager
def container_infra() -> Iterator[Infra]:
    from tests.containers import container_infra as start

    with start() as infra:
        yield infra


@contextmanager
def resolve_infra() -> Iterator[Infra]:
    """Env vars first, then testcontainers when a Docker engine answers, else the local runner."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database = os.environ.get("DATABASE_URL")
    if bootstrap and database:
        asyncio.run(ensure_topics(bootstrap, topics.ALL))
        yield ExternalInfra(kafka_bootstrap=bootstrap, server_url=database)
    elif docker_engine_answers():
        with container_infra() as infra:
            yield infra
    else:
        with local_infra() as infra:
            yield infra


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def create_database(server_url: str, prefix: str = "newsflow_test") -> str:
    """Create a fresh database next to `server_url`'s; return its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return _with_database(server_url, name)


async def drop_database(server_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
