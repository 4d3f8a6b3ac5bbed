"""Apache Kafka (KRaft) from the jars Maven Central publishes: one node or an N-node cluster."""

from __future__ import annotations

import asyncio
import base64
import logging
import shutil
import signal
import socket
import subprocess
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from newsflow_local import procs
from newsflow_local.paths import DEPLOY_LOCAL
from newsflow_schema.procs import alive

POM = DEPLOY_LOCAL / "pom.xml"
LOG4J = DEPLOY_LOCAL / "log4j2.yaml"
NAME = "kafka"
# Up to this many enrich replicas share the raw topic's work (NEWSFLOW_TOPIC_PARTITIONS).
DEFAULT_PARTITIONS = 6
# Big enough for the largest raw article plus its original, and for poison tests.
MESSAGE_MAX_BYTES = 8 * 1024 * 1024
# On a cluster every topic (ours and Kafka's internal ones) keeps 3 copies and accepts a
# write with acks=all only while 2 of them are in sync: one broker may fail, two may not.
CLUSTER_REPLICATION_FACTOR = 3
CLUSTER_MIN_INSYNC_REPLICAS = 2


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
class Replication:
    """How many copies a topic keeps and how many must be in sync to accept acks=all."""

    factor: int = 1
    min_insync: int = 1

    @classmethod
    def for_brokers(cls, brokers: int) -> Replication:
        if brokers >= CLUSTER_REPLICATION_FACTOR:
            return cls(CLUSTER_REPLICATION_FACTOR, CLUSTER_MIN_INSYNC_REPLICAS)
        return cls(1, 1)


@dataclass(frozen=True, slots=True)
class KafkaNode:
    """One combined broker+controller with its data under `home`.

    `voters` is the static controller quorum (`id@host:port,...`); empty means this node
    alone. `name` is the process name the runner tracks it by.
    """

    home: Path
    state: Path
    cache: Path
    port: int = 9092
    controller_port: int = 9093
    heap: str = "-Xms256m -Xmx512m"
    node_id: int = 1
    voters: str = ""
    name: str = NAME
    replication: Replication = Replication()
    cluster_id_file: Path | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _props(self) -> dict[str, str]:
        rf, isr = str(self.replication.factor), str(self.replication.min_insync)
        return {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.voters
            or f"{self.node_id}@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.home / "data"),
            "num.partitions": str(DEFAULT_PARTITIONS),
            # Topics are created on purpose (the runner, compose's init job); a typo fails loudly.
            "auto.create.topics.enable": "false",
            "default.replication.factor": rf,
            "min.insync.replicas": isr,
            # A dead node is fenced (its partitions get new leaders) after this long without
            # a heartbeat. Kafka's default is 9 s; 6 s keeps a failover well inside ingest's
            # publish deadline (INGEST_PUBLISH_TIMEOUT_S, 15 s) even on a loaded machine.
            "broker.session.timeout.ms": "6000",
            "broker.heartbeat.interval.ms": "1500",
            # Never elect a replica that missed acknowledged writes.
            "unclean.leader.election.enable": "false",
            "offsets.topic.replication.factor": rf,
            "offsets.topic.num.partitions": "3",
            "transaction.state.log.replication.factor": rf,
            "transaction.state.log.min.isr": isr,
            "share.coordinator.state.topic.replication.factor": rf,
            "share.coordinator.state.topic.min.isr": isr,
            "group.initial.rebalance.delay.ms": "0",
            "message.max.bytes": str(MESSAGE_MAX_BYTES),
            "replica.fetch.max.bytes": str(MESSAGE_MAX_BYTES),
            # Few threads: three JVMs share two cores with everything else.
            "num.network.threads": "2",
            "num.io.threads": "2",
            "num.replica.fetchers": "1",
            "background.threads": "2",
            "log.retention.hours": "168",
        }

    def _config(self) -> Path:
        conf = self.home / "server.properties"
        self.home.mkdir(parents=True, exist_ok=True)
        conf.write_text("".join(f"{k}={v}\n" for k, v in self._props().items()))
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
        cluster_id = _cluster_id(self.cluster_id_file or self.home / "cluster-id")
        # Static voters: format without --standalone (KAFKA_LOCAL.md).
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

    def launch(self) -> procs.Proc:
        """Start the JVM without waiting: a cluster node needs its peers to become ready."""
        self.format()
        if not _port_free(self.port) or not _port_free(self.controller_port):
            raise procs.StartupError(
                f"port {self.port} or {self.controller_port} is taken; is another broker running? "
                "(`make down`, or set NEWSFLOW_KAFKA_PORT)"
            )
        argv = self._java("kafka.Kafka", str(self.home / "server.properties"))
        return procs.spawn(self.name, argv, state=self.state)

    def start(self, *, timeout: float = 120.0) -> None:
        proc = self.launch()
        procs.wait_until(
            f"kafka on {self.bootstrap}",
            lambda: broker_answers(self.bootstrap),
            timeout=timeout,
            log=proc.log,
            pid=proc.pid,
            interval=0.5,
        )

    def stop(self, *, hard: bool = False) -> bool:
        return procs.stop(
            self.state, self.name, sig=signal.SIGKILL if hard else signal.SIGTERM, grace=30
        )

    def running(self) -> bool:
        return procs.running(self.state, self.name)


@dataclass(frozen=True, slots=True)
class KafkaCluster:
    """N combined nodes forming one KRaft quorum; one node is the single-broker default."""

    nodes: tuple[KafkaNode, ...]

    @classmethod
    def build(
        cls,
        *,
        state: Path,
        cache: Path,
        ports: Sequence[tuple[int, int]],
        heap: str,
    ) -> KafkaCluster:
        """Nodes 1..N on the given (broker, controller) ports; N=1 keeps the old layout."""
        if len(ports) == 1:
            port, controller = ports[0]
            home = state / NAME
            node = KafkaNode(home, state, cache, port, controller, heap)
            return cls((node,))
        voters = ",".join(f"{i}@127.0.0.1:{c}" for i, (_, c) in enumerate(ports, start=1))
        replication = Replication.for_brokers(len(ports))
        nodes = tuple(
            KafkaNode(
                home=state / f"{NAME}-{i}",
                state=state,
                cache=cache,
                port=port,
                controller_port=controller,
                heap=heap,
                node_id=i,
                voters=voters,
                name=f"{NAME}-{i}",
                replication=replication,
                cluster_id_file=state / "kafka-cluster-id",
            )
            for i, (port, controller) in enumerate(ports, start=1)
        )
        return cls(nodes)

    @property
    def size(self) -> int:
        return len(self.nodes)

    @property
    def replication(self) -> Replication:
        return Replication.for_brokers(self.size)

    @property
    def bootstrap(self) -> str:
        return ",".join(n.bootstrap for n in self.nodes)

    def node(self, node_id: int) -> KafkaNode:
        (found,) = [n for n in self.nodes if n.node_id == node_id]
        return found

    def start(self, *, timeout: float = 180.0) -> None:
        """Start every node that is not running; ready when metadata shows all N brokers."""
        started = [n.launch() for n in self.nodes if not n.running()]
        self.wait_ready(timeout=timeout, watch=started)

    def wait_ready(self, *, timeout: float = 180.0, watch: Sequence[procs.Proc] = ()) -> None:
        """Wait until a metadata request lists all N brokers; fail early if a node died."""

        def ready() -> bool:
            for proc in watch:
                if not alive(proc.pid):
                    raise procs.StartupError(
                        f"{proc.name} exited; see {proc.log}:\n{procs.log_tail(proc.log)}"
                    )
            return brokers_seen(self.bootstrap) >= self.size

        logs = ", ".join(str(p.log) for p in watch)
        procs.wait_until(
            f"kafka: all {self.size} brokers in the metadata"
            + (f" (logs: {logs})" if logs else ""),
            ready,
            timeout=timeout,
            interval=0.5,
        )

    def stop(self, *, hard: bool = False) -> None:
        for node in self.nodes:
            node.stop(hard=hard)

    def start_node(self, node_id: int, *, timeout: float = 180.0) -> None:
        """Start one stopped node and wait until the cluster counts it again."""
        node = self.node(node_id)
        proc = node.launch()
        self.wait_ready(timeout=timeout, watch=[proc])

    def stop_node(self, node_id: int, *, hard: bool = False) -> bool:
        """Stop one node: SIGTERM (controlled shutdown) or SIGKILL when `hard`."""
        return self.node(node_id).stop(hard=hard)

    def running(self) -> dict[str, bool]:
        return {n.name: n.running() for n in self.nodes}


def _cluster_id(path: Path) -> str:
    # The id must survive restarts of the same data directories, and every node shares it.
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(new_cluster_id())
    return path.read_text().strip()


def new_cluster_id() -> str:
    """A random KRaft cluster id: a UUID in URL-safe base64, as `kafka-storage random-uuid`
    makes it. Like Kafka's own Uuid.randomUuid, never one starting with "-", which the
    storage tool's argument parser would read as an option ("expected one argument")."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _quietly(coro: Any) -> Any:
    """Run an admin request; aiokafka logs every refused connection, expected while waiting."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        return asyncio.run(coro)
    finally:
        logging.getLogger("aiokafka").setLevel(logging.NOTSET)


def broker_answers(bootstrap: str) -> bool:
    """Ready means a metadata request through the admin client succeeds."""
    try:
        _quietly(_list_topics(bootstrap))
    except (KafkaError, OSError, TimeoutError):
        return False
    return True


def brokers_seen(bootstrap: str) -> int:
    """How many brokers a metadata request lists (0 when none answers)."""
    try:
        described = _quietly(_describe_cluster(bootstrap))
    except (KafkaError, OSError, TimeoutError):
        return 0
    return len(described["brokers"])


async def _admin(bootstrap: str) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await asyncio.wait_for(admin.start(), timeout=5)
    except BaseException:
        await admin.close()
        raise
    return admin


async def _list_topics(bootstrap: str) -> list[str]:
    admin = await _admin(bootstrap)
    try:
        return await asyncio.wait_for(admin.list_topics(), timeout=5)
    finally:
        await admin.close()


async def _describe_cluster(bootstrap: str) -> dict[str, Any]:
    admin = await _admin(bootstrap)
    try:
        return await asyncio.wait_for(admin.describe_cluster(), timeout=5)
    finally:
        await admin.close()


def topic_configs(replication: Replication) -> dict[str, str]:
    """The per-topic settings of every newsflow topic."""
    return {
        "max.message.bytes": str(MESSAGE_MAX_BYTES),
        "min.insync.replicas": str(replication.min_insync),
    }


async def ensure_topics(
    bootstrap: str,
    names: Iterable[str],
    *,
    partitions: int = DEFAULT_PARTITIONS,
    replication: Replication | None = None,
) -> None:
    """Create the topics that do not exist yet; existing ones are left as they are.

    Without `replication` it follows the cluster: RF 3 / min ISR 2 on three or more
    brokers, RF 1 / min ISR 1 on one.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        if replication is None:
            replication = Replication.for_brokers(len((await admin.describe_cluster())["brokers"]))
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            new = [
                NewTopic(
                    name=n,
                    num_partitions=partitions,
                    replication_factor=replication.factor,
                    topic_configs=topic_configs(replication),
                )
                for n in missing
            ]
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()


async def describe_partitions(
    bootstrap: str, topic: str, *, attempts: int = 10
) -> list[dict[str, Any]]:
    """Each partition of `topic` as the metadata has it: partition, leader, replicas, isr.

    The admin client asks a random known node; while a cluster node is down that may be
    the dead one, so a refused request is retried (another random node) a few times.
    """
    for attempt in range(attempts):
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            (described,) = await admin.describe_topics([topic])
            return sorted(described["partitions"], key=lambda p: int(p["partition"]))
        except (KafkaError, OSError):
            if attempt == attempts - 1:
                raise
        finally:
            await admin.close()
        await asyncio.sleep(0.2)
    raise AssertionError("unreachable")


async def leaders(bootstrap: str, topic: str) -> dict[int, int]:
    """Partition → the node id leading it (-1 while it has no leader)."""
    return {
        int(p["partition"]): int(p["leader"]) for p in await describe_partitions(bootstrap, topic)
    }


async def under_replicated(bootstrap: str, names: Iterable[str]) -> int:
    """How many partitions of `names` have fewer in-sync replicas than replicas."""
    count = 0
    for name in names:
        for p in await describe_partitions(bootstrap, name):
            count += len(p["isr"]) < len(p["replicas"])
    return count


async def group_members(bootstrap: str, group: str) -> int:
    """Members of a Stable group (0 while it rebalances or is empty)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await admin.start()
    try:
        for response in await admin.describe_consumer_groups([group]):
            for g in response.groups:
                # (error_code, group_id, state, protocol_type, protocol, members, ...)
                if g[1] == group and g[2] == "Stable":
                    return len(g[5])
    finally:
        await admin.close()
    return 0


async def topic_partitions(bootstrap: str, topic: str) -> list[TopicPartition]:
    """The partitions of `topic`, from the broker's metadata."""
    return [
        TopicPartition(topic, int(p["partition"]))
        for p in await describe_partitions(bootstrap, topic)
    ]


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
