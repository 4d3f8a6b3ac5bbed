"""The whole newsflow stack as local processes: Kafka, PostgreSQL, migrations, both services."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from newsflow_local import kafka, postgres, procs
from newsflow_local.paths import cache_dir, local_dir, repo_root
from newsflow_schema import topics

SERVICES = ("enrich", "ingest")
NODES_FILE = "kafka-nodes.json"


class RunnerSettings(BaseSettings):
    """Ports and addresses of the local stack; every one can be set from the environment."""

    model_config = SettingsConfigDict(env_ignore_empty=True, extra="ignore")

    kafka_port: int = Field(default=9092, validation_alias="NEWSFLOW_KAFKA_PORT")
    kafka_controller_port: int = Field(
        default=9093, validation_alias="NEWSFLOW_KAFKA_CONTROLLER_PORT"
    )
    postgres_port: int = Field(default=5432, validation_alias="NEWSFLOW_POSTGRES_PORT")
    database: str = Field(default="newsflow", validation_alias="NEWSFLOW_DATABASE")
    ingest_host: str = Field(default="127.0.0.1", validation_alias="INGEST_HOST")
    ingest_port: int = Field(default=8000, validation_alias="INGEST_PORT")
    enrich_host: str = Field(default="127.0.0.1", validation_alias="ENRICH_HOST")
    enrich_port: int = Field(default=8001, validation_alias="ENRICH_PORT")
    kafka_heap: str = Field(
        default="",
        validation_alias="NEWSFLOW_KAFKA_HEAP",
        description="JVM heap flags of each node; default 512 MB for one node, 384 MB each "
        "on a cluster (three JVMs share a small machine).",
    )
    brokers: int = Field(
        default=1,
        ge=1,
        validation_alias="NEWSFLOW_BROKERS",
        description="Kafka nodes; 3 or more make a replicated cluster (RF 3, min ISR 2).",
    )
    kafka_node_ports: str = Field(
        default="",
        validation_alias="NEWSFLOW_KAFKA_NODE_PORTS",
        description="broker:controller ports of each node, comma-separated; by default node i "
        "uses NEWSFLOW_KAFKA_PORT + 2(i-1) and NEWSFLOW_KAFKA_CONTROLLER_PORT + 2(i-1).",
    )
    topic_partitions: int = Field(
        default=kafka.DEFAULT_PARTITIONS, ge=1, validation_alias="NEWSFLOW_TOPIC_PARTITIONS"
    )

    def heap(self) -> str:
        if self.kafka_heap:
            return self.kafka_heap
        return "-Xms256m -Xmx384m" if self.brokers > 1 else "-Xms256m -Xmx512m"

    def node_ports(self) -> list[tuple[int, int]]:
        """(broker, controller) port of every Kafka node."""
        if self.kafka_node_ports:
            pairs = [p.split(":") for p in self.kafka_node_ports.split(",") if p.strip()]
            ports = [(int(b), int(c)) for b, c in pairs]
            if len(ports) != self.brokers:
                raise ValueError(
                    f"NEWSFLOW_KAFKA_NODE_PORTS names {len(ports)} nodes, NEWSFLOW_BROKERS "
                    f"is {self.brokers}: give one broker:controller pair per node"
                )
            return ports
        return [
            (self.kafka_port + 2 * i, self.kafka_controller_port + 2 * i)
            for i in range(self.brokers)
        ]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def on_free_ports(brokers: int = 1) -> RunnerSettings:
    """Settings whose every port is free: a stack beside `make up` and other runs."""
    nodes = [(free_port(), free_port()) for _ in range(brokers)]
    return RunnerSettings(
        NEWSFLOW_KAFKA_PORT=nodes[0][0],
        NEWSFLOW_KAFKA_CONTROLLER_PORT=nodes[0][1],
        NEWSFLOW_BROKERS=brokers,
        NEWSFLOW_KAFKA_NODE_PORTS=",".join(f"{b}:{c}" for b, c in nodes),
        NEWSFLOW_POSTGRES_PORT=free_port(),
        INGEST_PORT=free_port(),
        ENRICH_PORT=free_port(),
    )


@dataclass
class LocalStack:
    """Kafka + PostgreSQL (+ optionally the services) under one state directory."""

    state: Path
    settings: RunnerSettings = field(default_factory=RunnerSettings)

    def __post_init__(self) -> None:
        self.state = self.state.resolve()
        s = self.settings
        self.kafka = kafka.KafkaCluster.build(
            state=self.state, cache=cache_dir(), ports=s.node_ports(), heap=s.heap()
        )
        self.postgres = postgres.PostgresNode(
            home=self.state / "postgres", state=self.state, port=s.postgres_port
        )

    # --- infrastructure ---------------------------------------------------------------

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka.bootstrap

    def database_url(self, database: str | None = None) -> str:
        return self.postgres.url(database or self.settings.database)

    def start_kafka(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        # `status`/`down`/`logs` of this state directory find the nodes from this record.
        nodes = [{"broker": n.port, "controller": n.controller_port} for n in self.kafka.nodes]
        (self.state / NODES_FILE).write_text(json.dumps(nodes))
        self.kafka.start()
        asyncio.run(
            kafka.ensure_topics(
                self.kafka_bootstrap,
                topics.ALL,
                partitions=self.settings.topic_partitions,
                replication=self.kafka.replication,
            )
        )

    def stop_kafka(self, *, hard: bool = False) -> None:
        self.kafka.stop(hard=hard)

    def start_postgres(self) -> None:
        self.postgres.start()
        self.postgres.create_database(self.settings.database)

    def stop_postgres(self, *, hard: bool = False) -> None:
        self.postgres.stop(hard=hard)

    def migrate(self, database: str | None = None) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "newsflow_enrich", "migrate"],
            env={**os.environ, "DATABASE_URL": self.database_url(database)},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise procs.StartupError(f"migrations failed:\n{result.stdout}{result.stderr}")

    def start_infra(self) -> None:
        self.start_postgres()
        self.migrate()
        self.start_kafka()

    # --- services ---------------------------------------------------------------------

    def services(self) -> Services:
        return Services(
            state=self.state,
            kafka_bootstrap=self.kafka_bootstrap,
            database_url=self.database_url(),
            settings=self.settings,
        )

    def service_url(self, name: str) -> str:
        return self.services().url(name)

    def start_service(self, name: str, probe: str = "/healthz") -> None:
        self.services().start(name, probe=probe)

    def stop_service(self, name: str, *, hard: bool = False) -> bool:
        return self.services().stop(name, hard=hard)

    def up(self) -> None:
        self.start_infra()
        for name in SERVICES:
            self.start_service(name)

    def down(self) -> list[int]:
        """Stop services, then Kafka and PostgreSQL, then anything left of this state."""
        for name in ("ingest", "enrich"):
            self.stop_service(name)
        self.stop_kafka()
        self.stop_postgres()
        return procs.kill_all(self.state)

    def running(self) -> dict[str, bool]:
        names = ("postgres", *(n.name for n in self.kafka.nodes), *SERVICES)
        return {name: procs.running(self.state, name) for name in names}

    def destroy(self) -> None:
        self.down()
        shutil.rmtree(self.state, ignore_errors=True)


@dataclass(frozen=True, slots=True)
class Services:
    """The ingest and enrich processes, pointed at a given broker and database."""

    state: Path
    kafka_bootstrap: str
    database_url: str
    settings: RunnerSettings

    def env(self, **extra: str) -> dict[str, str]:
        s = self.settings
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "DATABASE_URL": self.database_url,
            "INGEST_HOST": s.ingest_host,
            "INGEST_PORT": str(s.ingest_port),
            "INGEST_READ_API_BASE_URL": self.url("enrich"),
            "ENRICH_HOST": s.enrich_host,
            "ENRICH_PORT": str(s.enrich_port),
            **extra,
        }

    def url(self, name: str, port: int | None = None) -> str:
        s = self.settings
        if name == "ingest":
            return f"http://{s.ingest_host}:{port or s.ingest_port}"
        return f"http://{s.enrich_host}:{port or s.enrich_port}"

    def start(
        self,
        name: str,
        *,
        instance: str | None = None,
        port: int | None = None,
        timeout: float = 180.0,
        probe: str = "/healthz",
        **extra_env: str,
    ) -> procs.Proc:
        """Start service `name` (ingest or enrich) and wait until `probe` answers 2xx.

        `probe` is /healthz (the process serves) by default; /readyz waits for the
        service's dependencies too (ingest: a connected Kafka producer), as a load
        balancer's readiness check would. `instance` names a second process of the same
        service (its own pid file and log); `port` moves it off the configured port.
        """
        env = self.env(**extra_env)
        if port is not None:
            env[f"{name.upper()}_PORT"] = str(port)
        proc = procs.spawn(
            instance or name,
            [sys.executable, "-m", f"newsflow_{name}"],
            state=self.state,
            env=env,
            cwd=repo_root(),
        )
        url = f"{self.url(name, port)}{probe}"
        procs.wait_until(
            f"{instance or name} at {url}",
            lambda: http_ok(url),
            timeout=timeout,
            log=proc.log,
            pid=proc.pid,
        )
        return proc

    def stop(self, name: str, *, hard: bool = False) -> bool:
        """Stop a service process by name or instance; SIGKILL when `hard`."""
        # Enrich may take its shutdown grace plus the outbox flush (~25 s) to stop cleanly.
        return procs.stop(
            self.state, name, sig=signal.SIGKILL if hard else signal.SIGTERM, grace=45
        )


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(200 <= resp.status < 300)
    except (urllib.error.URLError, OSError):
        return False


def recorded_nodes(state: Path) -> list[tuple[int, int]]:
    """The (broker, controller) ports of the Kafka nodes last started for `state`."""
    path = state / NODES_FILE
    if not path.exists():
        return []
    return [(int(n["broker"]), int(n["controller"])) for n in json.loads(path.read_text())]


def default_state() -> Path:
    return local_dir() / "stack"


@contextmanager
def temporary_stack(name: str, settings: RunnerSettings) -> Iterator[LocalStack]:
    """A throwaway stack (for tests): its own state directory, removed afterwards."""
    stack = LocalStack(state=local_dir() / name, settings=settings)
    try:
        yield stack
    finally:
        stack.destroy()
