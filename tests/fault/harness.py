"""Fault-injection harness: real processes under load, and the oracle over A, D and E.

A = article ids that received a 2xx from ingest; D = ids with rows in PostgreSQL;
E = ids seen on the enriched topic (deduplicated by event_id); F = ids stored as failed
(`article_failures`, and dead-lettered). The guarantee: A = D ∪ F.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from newsflow_enrich.db.migrate import upgrade
from newsflow_local.kafka import end_offsets
from newsflow_local.paths import local_dir
from newsflow_local.procs import kill_all
from newsflow_local.stack import RunnerSettings, Services
from newsflow_schema import article_id, header_map, topics
from tests.fault.articles import article
from tests.infra import Infra, create_database, drop_database
from tests.support.ports import free_port

Offsets = dict[TopicPartition, int]


def dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def wait_for(
    what: str, check: Callable[[], Awaitable[bool]], *, within: float, interval: float = 0.25
) -> float:
    """Poll `check` until true; return the seconds it took; AssertionError at the deadline."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > within:
            raise AssertionError(f"{what}: not reached within {within:.0f} s")
        await asyncio.sleep(interval)
    return time.monotonic() - started


# --- Kafka helpers ----------------------------------------------------------------------


async def commit_group_offsets(bootstrap: str, group: str, offsets: Offsets) -> None:
    """Give `group` these committed offsets (the group must have no active members)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(dict(offsets.items()))
    finally:
        await consumer.stop()


async def committed_offsets(bootstrap: str, group: str) -> Offsets:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in found.items() if meta.offset >= 0}


async def group_lag(bootstrap: str, group: str, topic: str = topics.RAW) -> int:
    ends = await end_offsets(bootstrap, topic)
    done = await committed_offsets(bootstrap, group)
    return sum(max(0, end - done.get(tp, 0)) for tp, end in ends.items())


class Collector:
    """Reads a topic from given offsets in the background, keeping every record."""

    def __init__(self, bootstrap: str, topic: str, start: Offsets) -> None:
        self.records: list[ConsumerRecord[bytes, bytes]] = []
        self._bootstrap = bootstrap
        self._topic = topic
        self._start = start
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Collector:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            fetch_max_bytes=16 * 1024 * 1024,
            max_partition_fetch_bytes=16 * 1024 * 1024,
        )
        await consumer.start()
        consumer.assign(list(self._start))
        for tp, offset in self._start.items():
            consumer.seek(tp, offset)
        self._task = asyncio.create_task(self._run(consumer))
        return self

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=200)
                for records in batches.values():
                    self.records.extend(records)
        finally:
            await consumer.stop()

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def keys(self) -> set[str]:
        return {r.key.decode() for r in self.records if r.key is not None}

    def event_ids(self) -> Counter[str]:
        return Counter(header_map(r.headers).get("ce_id", "") for r in self.records)


# --- load -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    index: int
    article_id: str
    status: int | None  # None: no HTTP answer (connection refused, reset, timeout)
    sent: float
    done: float
    error: str | None = None
    retry_after: str | None = None
    detail: str | None = None  # the problem's `detail` of a 4xx/5xx answer


def problem_detail(resp: httpx.Response) -> str | None:
    """The `detail` of an error answer's problem+json body (None for a success)."""
    if resp.status_code < 400:
        return None
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200]
    return str(body.get("detail")) if isinstance(body, dict) else None


@dataclass
class Load:
    """A background poster: `count` articles at `rate` per second to POST /v1/articles."""

    base_url: str
    run: str
    count: int
    rate: float
    concurrency: int = 16
    outcomes: list[Outcome] = field(default_factory=list)
    progress: int = 0

    def ids(self) -> list[str]:
        return [
            str(article_id(url=article(self.run, i)["url"], title=None, body=""))
            for i in range(self.count)
        ]

    def accepted(self) -> set[str]:
        return {o.article_id for o in self.outcomes if o.status is not None and o.status < 300}

    async def run_all(self) -> list[Outcome]:
        limit = asyncio.Semaphore(self.concurrency)
        started = time.monotonic()
        timeout = httpx.Timeout(30.0, connect=5.0)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=timeout) as client:

            async def one(i: int) -> None:
                payload = article(self.run, i)
                aid = str(article_id(url=payload["url"], title=None, body=""))
                async with limit:
                    sent = time.monotonic()
                    try:
                        resp = await client.post("/v1/articles", json=payload)
                    except httpx.HTTPError as exc:
                        self.outcomes.append(
                            Outcome(i, aid, None, sent, time.monotonic(), type(exc).__name__)
                        )
                    else:
                        if resp.status_code == 202:
                            assert resp.json()["id"] == aid
                        self.outcomes.append(
                            Outcome(
                                i,
                                aid,
                                resp.status_code,
                                sent,
                                time.monotonic(),
                                retry_after=resp.headers.get("retry-after"),
                                detail=problem_detail(resp),
                            )
                        )
                    self.progress += 1

            tasks = []
            for i in range(self.count):
                # Open loop: the schedule does not wait for answers.
                delay = started + i / self.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(i)))
            await asyncio.gather(*tasks)
        return self.outcomes

    def start(self) -> asyncio.Task[list[Outcome]]:
        return asyncio.create_task(self.run_all())


# --- a scenario -------------------------------------------------------------------------


@dataclass
class Report:
    scenario: str
    sent: int
    accepted: int
    in_db: int
    on_topic: int
    duplicates_on_topic: int
    recovery_s: float | None = None
    failed: int = 0

    def row(self) -> str:
        rec = "-" if self.recovery_s is None else f"{self.recovery_s:.1f}"
        return (
            f"| {self.scenario} | {self.sent} | {self.accepted} | {self.in_db} | {self.on_topic} "
            f"| {self.failed} | {self.duplicates_on_topic} | {rec} |"
        )


REPORTS: list[Report] = []


@dataclass
class Scenario:
    """A fresh database, consumer group and pair of services on the session's broker."""

    infra: Infra
    name: str
    run: str
    database_url: str
    group: str
    services: Services
    enriched: Collector
    dlq: Collector
    raw_start: Offsets
    enrich_env: dict[str, str]
    ingest_env: dict[str, str]

    @property
    def ingest_url(self) -> str:
        return self.services.url("ingest")

    def load(self, count: int, rate: float) -> Load:
        return Load(base_url=self.ingest_url, run=self.run, count=count, rate=rate)

    def start_enrich(self, *, instance: str | None = None, port: int | None = None) -> None:
        self.services.start("enrich", instance=instance, port=port, **self.enrich_env)

    def start_ingest(self) -> None:
        # Until its producer has connected, ingest answers 503 (by design: it serves while
        # Kafka is away). Load starts once /readyz says it can publish, as traffic behind a
        # readiness probe would; otherwise the first requests of a scenario race the connect.
        self.services.start("ingest", probe="/readyz", **self.ingest_env)

    async def db_ids(self, ids: list[str]) -> Counter[str]:
        conn = await asyncpg.connect(dsn(self.database_url))
        try:
            rows = await conn.fetch(
                "SELECT article_id::text AS id FROM articles WHERE article_id = ANY($1::uuid[])",
                ids,
            )
        finally:
            await conn.close()
        return Counter(r["id"] for r in rows)

    async def scalar(self, sql: str, *args: Any) -> Any:
        conn = await asyncpg.connect(dsn(self.database_url))
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    async def drained(self, load: Load, *, within: float = 240.0) -> float:
        """Wait until every accepted article is in the database and on the topic."""
        accepted = sorted(load.accepted())

        async def done() -> bool:
            if not set(accepted) <= self.enriched.keys():
                return False
            return set(accepted) <= set(await self.db_ids(accepted))

        try:
            return await wait_for(f"{self.name}: pipeline drained", done, within=within)
        except AssertionError as exc:
            missing_db = set(accepted) - set(await self.db_ids(accepted))
            missing_topic = set(accepted) - self.enriched.keys()
            raise AssertionError(
                f"{exc}: {len(missing_db)} accepted not in PostgreSQL, "
                f"{len(missing_topic)} not on the enriched topic\n{logs(self)}"
            ) from exc

    async def lag_zero(self, *, within: float = 120.0) -> float:
        async def zero() -> bool:
            return await group_lag(self.infra.kafka_bootstrap, self.group) == 0

        return await wait_for(f"{self.name}: consumer lag 0", zero, within=within)

    async def report(
        self, load: Load, *, recovery_s: float | None = None, failed: int = 0
    ) -> Report:
        ids = load.ids()
        in_db = await self.db_ids(ids)
        keys = self.enriched.keys() & set(ids)
        counts = self.enriched.event_ids()
        wanted = set(ids)
        ours = [r for r in self.enriched.records if r.key is not None and r.key.decode() in wanted]
        dup = sum(
            counts[header_map(r.headers).get("ce_id", "")] - 1
            for r in {header_map(r.headers).get("ce_id", ""): r for r in ours}.values()
        )
        report = Report(
            scenario=self.name,
            sent=load.count,
            accepted=len(load.accepted()),
            in_db=len(in_db),
            on_topic=len(keys),
            duplicates_on_topic=dup,
            recovery_s=recovery_s,
            failed=failed,
        )
        REPORTS.append(report)
        return report


@asynccontextmanager
async def scenario(
    infra: Infra,
    name: str,
    *,
    enrich_env: dict[str, str] | None = None,
    ingest_env: dict[str, str] | None = None,
    start: bool = True,
) -> AsyncIterator[Scenario]:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    run = f"{slug}-{uuid.uuid4().hex[:8]}"
    url = await create_database(infra.server_url, prefix="newsflow_fault")
    await asyncio.to_thread(upgrade, url)
    group = f"fault-{run}"
    bootstrap = infra.kafka_bootstrap
    raw_start = await end_offsets(bootstrap, topics.RAW)
    # The new group starts where the topic ends now, not at what earlier tests wrote.
    await commit_group_offsets(bootstrap, group, raw_start)
    state = local_dir() / f"fault-{run}"
    services = Services(
        state=state,
        kafka_bootstrap=bootstrap,
        database_url=url,
        settings=RunnerSettings(INGEST_PORT=free_port(), ENRICH_PORT=free_port()),
    )
    env = {"ENRICH_GROUP_ID": group, **(enrich_env or {})}
    enriched = Collector(bootstrap, topics.ENRICHED, await end_offsets(bootstrap, topics.ENRICHED))
    dlq = Collector(bootstrap, topics.DLQ, await end_offsets(bootstrap, topics.DLQ))
    async with enriched, dlq:
        scn = Scenario(
            infra, name, run, url, group, services, enriched, dlq, raw_start, env, ingest_env or {}
        )
        try:
            if start:
                await asyncio.to_thread(scn.start_enrich)
                await asyncio.to_thread(scn.start_ingest)
            yield scn
        finally:
            await asyncio.to_thread(kill_all, state)
            shutil.rmtree(state, ignore_errors=True)
            await asyncio.to_thread(infra.ensure_running)
            await drop_database(infra.server_url, url)


def logs(scn: Scenario) -> str:
    """The services' logs, for assertion messages."""
    out = []
    for log in sorted((scn.services.state / "logs").glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-40:]
        out.append(f"--- {log.name}\n" + "\n".join(tail))
    return "\n".join(out)


def summary_table() -> str:
    head = (
        "| scenario | sent | A (2xx) | D (in PostgreSQL) | E (on topic) | F (failed) "
        "| duplicates on topic | recovery s |"
    )
    sep = "|---|---|---|---|---|---|---|---|"
    return "\n".join([head, sep, *(r.row() for r in REPORTS)])


def snapshot_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "artifacts"
