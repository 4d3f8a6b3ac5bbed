"""A single-node Apache Kafka (KRaft) broker from the jars Maven Central publishes."""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from newsflow_local import procs
from newsflow_local.paths import DEPLOY_LOCAL

POM = DEPLOY_LOCAL / "pom.xml"
LOG4J = DEPLOY_LOCAL / "log4j2.yaml"
NAME = "kafka"
DEFAULT_PARTITIONS = 3
# Big enough for the largest raw article plus its original, and for poison tests.
MESSAGE_MAX_BYTES = 8 * 1024 * 1024


class JarsError(RuntimeError):
    """Maven could not provide the Kafka jars."""


def ensure_jars(cache: Path) -> Path:
    """The class path directory of the broker, resolved by Maven on first use only."""
    key = _pom_key()
    lib = cache / "kafka" / key / "lib"
    marker = lib.parent / "complete"
    if marker.exists():
        return lib
    if shutil.which("mvn") is None:
        raise JarsError("Maven (mvn) is not installed; install Maven and Java 17")
    if lib.exists():
        shutil.rmtree(lib)
    print(f"newsflow-local: fetching the Kafka broker jars with Maven into {lib} …", flush=True)
    result = subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={lib}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise JarsError(f"mvn failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    marker.write_text("ok\n")
    return lib


def _pom_key() -> str:
    import hashlib

    return hashlib.sha256(POM.read_bytes()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class KafkaNode:
    """One combined broker+controller with its data under `home`."""

    home: Path
    state: Path
    cache: Path
    port: int = 9092
    controller_port: int = 9093
    heap: str = "-Xms256m -Xmx512m"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _config(self) -> Path:
        data = self.home / "data"
        conf = self.home / "server.properties"
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(data),
            "num.partitions": str(DEFAULT_PARTITIONS),
            # Topics are created on purpose (the runner, compose's init job); a typo fails loudly.
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "3",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "message.max.bytes": str(MESSAGE_MAX_BYTES),
            "replica.fetch.max.bytes": str(MESSAGE_MAX_BYTES),
            "num.network.threads": "2",
            "num.io.threads": "2",
            "log.retention.hours": "168",
        }
        self.home.mkdir(parents=True, exist_ok=True)
        conf.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        return conf

    def _java(self, main: str, *args: str) -> list[str]:
        return [
            "java",
            *self.heap.split(),
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J}",
            f"-Dkafka.logs.dir={self.home / 'logs'}",
            "-cp",
            f"{ensure_jars(self.cache)}/*",
            main,
            *args,
        ]

    def format(self) -> None:
        """Format KRaft storage once; a formatted directory is reused as it is."""
        conf = self._config()
        if (self.home / "data" / "meta.properties").exists():
            return
        cluster_id = _cluster_id(self.home)
        result = subprocess.run(
            self._java(
                "kafka.tools.StorageTool", "format", "-g", "-t", cluster_id, "-c", str(conf)
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise procs.StartupError(
                f"kafka storage format failed:\n{result.stdout}{result.stderr}"
            )

    def start(self, *, timeout: float = 120.0) -> None:
        self.format()
        if not _port_free(self.port) or not _port_free(self.controller_port):
            raise procs.StartupError(
                f"port {self.port} or {self.controller_port} is taken; is another broker running? "
                "(`make down`, or set NEWSFLOW_KAFKA_PORT)"
            )
        proc = procs.spawn(
            NAME, self._java("kafka.Kafka", str(self.home / "server.properties")), state=self.state
        )
        procs.wait_until(
            f"kafka on {self.bootstrap}",
            lambda: broker_answers(self.bootstrap),
            timeout=timeout,
            log=proc.log,
            pid=proc.pid,
            interval=0.5,
        )

    def stop(self, *, hard: bool = False) -> bool:
        import signal

        return procs.stop(
            self.state, NAME, sig=signal.SIGKILL if hard else signal.SIGTERM, grace=30
        )


def _cluster_id(home: Path) -> str:
    # The id must survive restarts of the same data directory.
    path = home / "cluster-id"
    if not path.exists():
        import base64

        path.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))
    return path.read_text().strip()


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def broker_answers(bootstrap: str) -> bool:
    """Ready means a metadata request through the admin client succeeds."""
    # aiokafka logs every refused connection; while waiting for a broker that is expected.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        asyncio.run(_list_topics(bootstrap))
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        logging.getLogger("aiokafka").setLevel(logging.NOTSET)
    return True


async def _list_topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await asyncio.wait_for(admin.start(), timeout=5)
        return await asyncio.wait_for(admin.list_topics(), timeout=5)
    finally:
        await admin.close()


async def ensure_topics(
    bootstrap: str, names: Iterable[str], *, partitions: int = DEFAULT_PARTITIONS
) -> None:
    """Create the topics that do not exist yet (replication factor 1)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [
                        NewTopic(
                            name=n,
                            num_partitions=partitions,
                            replication_factor=1,
                            topic_configs={"max.message.bytes": str(MESSAGE_MAX_BYTES)},
                        )
                        for n in missing
                    ]
                )
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()


async def topic_partitions(bootstrap: str, topic: str) -> list[TopicPartition]:
    """The partitions of `topic`, from the broker's metadata."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(TopicPartition(topic, p["partition"]) for p in described["partitions"])


async def end_offsets(bootstrap: str, topic: str) -> dict[TopicPartition, int]:
    """The offset the next record of each partition of `topic` will get."""
    wanted = await topic_partitions(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(wanted)
        offsets: dict[TopicPartition, int] = await consumer.end_offsets(wanted)
        return offsets
    finally:
        await consumer.stop()
