"""A three-node Kafka cluster for the fault scenarios, and the table they report into."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from newsflow_local import kafka
from newsflow_local.paths import local_dir
from newsflow_local.stack import LocalStack, on_free_ports
from newsflow_schema import topics
from tests.fault.harness import Load, Outcome, Report
from tests.infra import LocalInfra

BROKERS = 3
# Kafka's own topic of committed group offsets (RF 3, min ISR 2 on the cluster).
OFFSETS_TOPIC = "__consumer_offsets"
IN_SYNC_TOPICS = (*topics.ALL, OFFSETS_TOPIC)


@dataclass
class ClusterInfra(LocalInfra):
    """The fault harness's Infra on a 3-node cluster, plus per-node control."""

    kind: str = "local-cluster"

    def start_kafka(self) -> None:
        # The topics exist from the first start: only the stopped nodes come back.
        self.stack.kafka.start()

    def stop_node(self, node_id: int, *, hard: bool) -> None:
        assert self.stack.kafka.stop_node(node_id, hard=hard), f"kafka-{node_id} was not running"

    def start_node(self, node_id: int) -> None:
        self.stack.kafka.start_node(node_id)

    def ensure_running(self) -> None:
        """Start stopped nodes (and PostgreSQL), then wait until every replica is in sync."""
        if not self.stack.running()["postgres"]:
            self.start_postgres()
        if not all(self.stack.kafka.running().values()):
            self.start_kafka()
        asyncio.run(wait_in_sync(self.kafka_bootstrap, within=180))

    def busiest_leader(self, topic: str = topics.RAW) -> int:
        """The node leading the most partitions of `topic`."""
        leaders = asyncio.run(kafka.leaders(self.kafka_bootstrap, topic))
        return Counter(leaders.values()).most_common(1)[0][0]


async def wait_in_sync(bootstrap: str, *, within: float) -> float:
    """Wait until no partition of newsflow's topics or of the group offsets lacks a replica.

    The offsets topic counts too: enrich commits there with min ISR 2, so a node stopped
    before it caught up on `__consumer_offsets` would leave those partitions one copy short.
    """
    started = time.monotonic()
    while await kafka.under_replicated(bootstrap, IN_SYNC_TOPICS):
        if time.monotonic() - started > within:
            raise AssertionError(f"replicas not back in sync within {within:.0f} s")
        await asyncio.sleep(0.5)
    return time.monotonic() - started


async def wait_leaders_moved(bootstrap: str, away_from: Iterable[int], *, within: float) -> float:
    """Seconds until no partition of the raw topic is led by (or waits for) `away_from`."""
    gone = set(away_from)
    started = time.monotonic()
    while True:
        leaders = await kafka.leaders(bootstrap, topics.RAW)
        if not gone & set(leaders.values()) and -1 not in leaders.values():
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(f"raw-topic leaders still on {gone}: {leaders}")
        await asyncio.sleep(0.2)


@contextmanager
def cluster_infra() -> Iterator[ClusterInfra]:
    stack = LocalStack(state=local_dir() / "test-cluster", settings=on_free_ports(BROKERS))
    stack.destroy()  # what a killed earlier run left behind
    try:
        stack.start_postgres()
        stack.start_kafka()
        yield ClusterInfra(stack)
    finally:
        stack.destroy()


@dataclass
class Timeline:
    """What a scenario did to the cluster and when, to place refused requests against it."""

    origin: float = field(default_factory=time.monotonic)
    events: list[tuple[float, str]] = field(default_factory=list)

    def mark(self, what: str, at: float | None = None) -> float:
        """Record `what` at `at` (now by default); returns the time."""
        when = time.monotonic() if at is None else at
        self.events.append((when, what))
        return when

    def last_before(self, moment: float) -> str:
        """The latest event at or before `moment`, with its offset from the origin."""
        past = [(t, what) for t, what in self.events if t <= moment]
        if not past:
            return "before any fault"
        t, what = max(past)
        return f"{what} (+{t - self.origin:.1f} s)"

    def explain(self, outcomes: Iterable[Outcome], *, limit: int = 20) -> str:
        """One line per outcome: sent/answered offsets, status, detail, what was going on."""
        lines = [
            f"+{o.sent - self.origin:.1f} s -> +{o.done - self.origin:.1f} s: "
            f"{o.status or o.error} {o.detail or ''!r}, after {self.last_before(o.sent)}"
            for o in sorted(outcomes, key=lambda o: o.sent)[:limit]
        ]
        events = [f"  +{t - self.origin:.1f} s {what}" for t, what in sorted(self.events)]
        return "\n".join([*lines, "timeline:", *events])


# --- the table --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    report: Report
    unavailable: int
    worst_202_s: float | None

    def line(self) -> str:
        r = self.report
        worst = "-" if self.worst_202_s is None else f"{self.worst_202_s:.1f}"
        rec = "-" if r.recovery_s is None else f"{r.recovery_s:.1f}"
        return (
            f"| {r.scenario} | {r.sent} | {r.accepted} | {r.in_db} | {r.on_topic} "
            f"| {self.unavailable} | {worst} | {rec} |"
        )


ROWS: list[Row] = []


def sent_between(load: Load, start: float, end: float) -> list[Outcome]:
    return [o for o in load.outcomes if start <= o.sent <= end]


def record(report: Report, load: Load, window: tuple[float, float]) -> Row:
    """Add a scenario to the table: its 503s, and its slowest 202 sent inside `window`."""
    during = [o.done - o.sent for o in sent_between(load, *window) if o.status == 202]
    row = Row(
        report=report,
        unavailable=sum(1 for o in load.outcomes if o.status == 503),
        worst_202_s=max(during) if during else None,
    )
    ROWS.append(row)
    return row


def table() -> str:
    head = (
        "| scenario | sent | A (2xx) | D (in PostgreSQL) | E (on topic) | 503s "
        "| worst 202 s during failover | recovery s |"
    )
    return "\n".join([head, "|---|---|---|---|---|---|---|---|", *(r.line() for r in ROWS)])
