"""Kafka (the official apache/kafka image) and PostgreSQL in containers, for Docker hosts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from testcontainers.core.container import DockerContainer
from testcontainers.postgres import PostgresContainer

from newsflow_local.kafka import broker_answers, ensure_topics
from newsflow_local.stack import free_port
from newsflow_schema import topics

KAFKA_IMAGE = "apache/kafka:4.1.1"
POSTGRES_IMAGE = "postgres:16-alpine"


def kafka_container(port: int) -> DockerContainer:
    # The image ignores its default config once any KAFKA_* variable is set: set them all.
    env = {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": "PLAINTEXT://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://127.0.0.1:{port}",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
        "KAFKA_NUM_PARTITIONS": "3",
        "KAFKA_MESSAGE_MAX_BYTES": str(8 * 1024 * 1024),
        "KAFKA_HEAP_OPTS": "-Xms256m -Xmx512m",
        "CLUSTER_ID": "bmV3c2Zsb3ctdGVzdHMtMQ",
    }
    container = DockerContainer(KAFKA_IMAGE).with_bind_ports(9092, port)
    for key, value in env.items():
        container = container.with_env(key, value)
    return container


@dataclass
class ContainerInfra:
    kafka: DockerContainer
    postgres: PostgresContainer
    kafka_port: int
    kind: str = "containers"

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def server_url(self) -> str:
        return str(self.postgres.get_connection_url(driver="asyncpg"))

    def _wait_kafka(self) -> None:
        deadline = time.monotonic() + 120
        while not broker_answers(self.kafka_bootstrap):
            if time.monotonic() > deadline:
                raise TimeoutError("kafka container did not answer within 120 s")
            time.sleep(0.5)
        asyncio.run(ensure_topics(self.kafka_bootstrap, topics.ALL))

    def stop_kafka(self, *, hard: bool = False) -> None:
        wrapped = self.kafka.get_wrapped_container()
        wrapped.kill() if hard else wrapped.stop(timeout=30)

    def start_kafka(self) -> None:
        self.kafka.get_wrapped_container().start()
        self._wait_kafka()

    def stop_postgres(self, *, hard: bool = False) -> None:
        wrapped = self.postgres.get_wrapped_container()
        wrapped.kill() if hard else wrapped.stop(timeout=30)

    def ensure_running(self) -> None:
        for container, start in (
            (self.postgres, self.start_postgres),
            (self.kafka, self.start_kafka),
        ):
            wrapped = container.get_wrapped_container()
            wrapped.reload()
            if wrapped.status != "running":
                start()

    def start_postgres(self) -> None:
        self.postgres.get_wrapped_container().start()
        deadline = time.monotonic() + 60
        while self.postgres.exec(["pg_isready", "-U", self.postgres.username]).exit_code != 0:
            if time.monotonic() > deadline:
                raise TimeoutError("postgres container did not answer within 60 s")
            time.sleep(0.5)


@contextmanager
def container_infra() -> Iterator[ContainerInfra]:
    pg_port = free_port()
    postgres = PostgresContainer(
        POSTGRES_IMAGE, username="newsflow", password="newsflow", dbname="newsflow"
    ).with_bind_ports(5432, pg_port)
    kafka_port = free_port()
    kafka = kafka_container(kafka_port)
    with postgres, kafka:
        infra = ContainerInfra(kafka=kafka, postgres=postgres, kafka_port=kafka_port)
        infra._wait_kafka()
        yield infra
