"""Cluster benchmarks: enrich throughput with 1-3 replicas, ingest latency across a failover.

`uv run --group bench python -m bench.cluster [--quick]` starts its own 3-node Kafka cluster
and PostgreSQL, writes bench/results/cluster-<date>.json and the table between the cluster
markers of bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka.admin import AIOKafkaAdminClient

from bench.articles import BenchArticle, make_articles
from bench.enrich import log
from bench.kafka import commit_group_at
from bench.load import percentiles
from bench.report import README, RESULTS_DIR, machine_facts
from bench.stack import bench_stack
from newsflow_local import kafka
from newsflow_local.stack import LocalStack, Services, free_port
from newsflow_schema import topics

START = "<!-- bench:cluster:start -->"
END = "<!-- bench:cluster:end -->"


@dataclass(frozen=True, slots=True)
class ClusterPlan:
    articles: int
    replicas: tuple[int, ...]
    failover_rate: float
    failover_s: float
    kill_after_s: float
    timeout_s: float


FULL = ClusterPlan(160, (1, 2, 3), 10.0, 45.0, 10.0, 600.0)
QUICK = ClusterPlan(24, (1, 2), 5.0, 20.0, 5.0, 300.0)


async def committed_total(bootstrap: str, group: str, start: dict[Any, int]) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return sum(max(0, m.offset - start.get(tp, 0)) for tp, m in offsets.items() if m.offset >= 0)


async def post_all(url: str, articles: list[BenchArticle]) -> None:
    async with httpx.AsyncClient(timeout=600.0) as client:
        for first in range(0, len(articles), 100):
            chunk = [a.payload for a in articles[first : first + 100]]
            response = await client.post(f"{url}/v1/articles:batch", json=chunk)
            response.raise_for_status()
            if response.json()["accepted"] != len(chunk):
                raise RuntimeError(f"ingest refused part of the batch: {response.text}")


def start_replicas(stack: LocalStack, replicas: int, group: str, database_url: str) -> list[str]:
    """Start `replicas` enrich processes (one NLP worker each) in one group."""
    services = stack.services()
    names = ["enrich", *(f"enrich-{i}" for i in range(2, replicas + 1))]
    for name in names:
        port = None if name == "enrich" else free_port()
        services.start(
            "enrich",
            instance=name,
            port=port,
            ENRICH_WORKERS="1",
            ENRICH_GROUP_ID=group,
            DATABASE_URL=database_url,
        )
    return names


async def replicas_run(
    stack: LocalStack, ingest: Services, replicas: int, plan: ClusterPlan, run_id: str
) -> dict[str, Any]:
    """Replicas up and Stable in one group first; then the articles arrive; time to commit."""
    database = f"bench_r{replicas}_{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(stack.postgres.create_database, database)
    await asyncio.to_thread(stack.migrate, database)
    group = f"bench-cluster-r{replicas}-{uuid.uuid4().hex[:8]}"
    start = await kafka.end_offsets(stack.kafka_bootstrap, topics.RAW)
    await commit_group_at(stack.kafka_bootstrap, group, start)
    log(f"cluster: {replicas} enrich replica(s)")
    names = await asyncio.to_thread(
        start_replicas, stack, replicas, group, stack.database_url(database)
    )
    try:
        deadline = time.monotonic() + plan.timeout_s
        while await kafka.group_members(stack.kafka_bootstrap, group) < replicas:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{replicas} replicas never formed a Stable group")
            await asyncio.sleep(0.2)
        articles = make_articles(plan.articles, seed=7, run=f"{run_id}-r{replicas}")
        t0 = time.monotonic()
        await post_all(ingest.url("ingest"), articles)
        while await committed_total(stack.kafka_bootstrap, group, start) < plan.articles:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{replicas} replicas did not commit {plan.articles} records")
            await asyncio.sleep(0.1)
        seconds = time.monotonic() - t0
    finally:
        for name in names:
            await asyncio.to_thread(stack.services().stop, name)
    return {
        "replicas": replicas,
        "articles": plan.articles,
        "seconds": round(seconds, 2),
        "articles_s": round(plan.articles / seconds, 2),
    }


async def failover_run(stack: LocalStack, plan: ClusterPlan, run_id: str) -> dict[str, Any]:
    """Open-loop single POSTs; the busiest raw-topic leader is SIGKILLed part-way."""
    articles = make_articles(int(plan.failover_rate * plan.failover_s), run=f"{run_id}-fo")
    url = f"{stack.services().url('ingest')}/v1/articles"
    answers: list[tuple[float, float, int | None]] = []
    async with httpx.AsyncClient(timeout=60.0) as client:

        async def one(article: BenchArticle) -> None:
            sent = time.monotonic()
            try:
                status: int | None = (await client.post(url, json=article.payload)).status_code
            except httpx.HTTPError:
                status = None
            answers.append((sent, time.monotonic(), status))

        started = time.monotonic()
        tasks, killed, victim = [], None, None
        for i, article in enumerate(articles):
            delay = started + i / plan.failover_rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if killed is None and time.monotonic() - started >= plan.kill_after_s:
                leaders = await kafka.leaders(stack.kafka_bootstrap, topics.RAW)
                victim = Counter(leaders.values()).most_common(1)[0][0]
                await asyncio.to_thread(stack.kafka.stop_node, victim, hard=True)
                killed = time.monotonic()
                log(f"cluster: SIGKILLed kafka-{victim}")
            tasks.append(asyncio.create_task(one(article)))
        await asyncio.gather(*tasks)
    assert killed is not None and victim is not None
    await asyncio.to_thread(stack.kafka.start_node, victim)
    return summarize_failover(answers, killed, window_s=15.0)


def summarize_failover(
    answers: list[tuple[float, float, int | None]], killed: float, *, window_s: float
) -> dict[str, Any]:
    phases = {
        "before the kill": [a for a in answers if a[0] < killed],
        f"{window_s:.0f} s after the kill": [
            a for a in answers if killed <= a[0] < killed + window_s
        ],
        "after that": [a for a in answers if a[0] >= killed + window_s],
        "whole run": answers,
    }
    out: dict[str, Any] = {}
    for name, rows in phases.items():
        ok = [(done - sent) * 1000 for sent, done, status in rows if status == 202]
        out[name] = {
            "requests": len(rows),
            "accepted": len(ok),
            "unavailable": sum(1 for r in rows if r[2] == 503),
            "errors": sum(1 for r in rows if r[2] not in (202, 503)),
            "latency_ms": {
                k: None if v is None else round(v, 1) for k, v in percentiles(ok).items()
            },
        }
    return out


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"Run {result['started_at']} ({result['mode']}), 3 KRaft nodes (RF 3, min ISR 2) and "
        f"every service on {result['machine'].get('cores')} cores; load average at start "
        f"{result['load_start']}, at end {result['load_end']}.",
        "",
        "| enrich replicas (1 NLP worker each) | articles | seconds | articles/s | vs 1 replica |",
        "|---|---|---|---|---|",
    ]
    runs = result["replicas"]
    base = runs[0]["articles_s"]
    for r in runs:
        lines.append(
            f"| {r['replicas']} | {r['articles']} | {r['seconds']} | {r['articles_s']} "
            f"| ×{r['articles_s'] / base:.2f} |"
        )
    lines += [
        "",
        f"Ingest across a leader failover: single POSTs open loop at {result['failover_rate']}/s, "
        "the node leading most raw-topic partitions SIGKILLed after "
        f"{result['kill_after_s']:.0f} s.",
        "",
        "| phase (by send time) | requests | 202 | 503 | other | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, p in result["failover"].items():
        lat = p["latency_ms"]
        lines.append(
            f"| {name} | {p['requests']} | {p['accepted']} | {p['unavailable']} | {p['errors']} "
            f"| {lat['p50']} | {lat['p99']} | {lat['max']} |"
        )
    return "\n".join(lines) + "\n"


def write(result: dict[str, Any], table: str) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    (RESULTS_DIR / f"cluster-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    with (RESULTS_DIR / f"cluster-{stamp}.md").open("a") as out:
        out.write(f"\n## {result['started_at']}\n\n{table}")
    text = README.read_text()
    if START in text and END in text:
        head, _, rest = text.partition(START)
        _, _, tail = rest.partition(END)
        README.write_text(f"{head}{START}\n{table}{END}{tail}")


async def run(stack: LocalStack, plan: ClusterPlan, run_id: str) -> dict[str, Any]:
    services = stack.services()
    await asyncio.to_thread(services.start, "ingest")
    try:
        replicas = [await replicas_run(stack, services, n, plan, run_id) for n in plan.replicas]
        failover = await failover_run(stack, plan, run_id)
    finally:
        await asyncio.to_thread(services.stop, "ingest")
    return {"replicas": replicas, "failover": failover}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer articles")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    load_start = round(os.getloadavg()[0], 2)
    with bench_stack(brokers=3) as stack:
        out = asyncio.run(run(stack, plan, uuid.uuid4().hex[:8]))
    result = {
        "started_at": started_at,
        "mode": "quick" if args.quick else "full",
        "machine": machine_facts(),
        "load_start": load_start,
        "load_end": round(os.getloadavg()[0], 2),
        "failover_rate": plan.failover_rate,
        "kill_after_s": plan.kill_after_s,
        **out,
    }
    table = markdown(result)
    write(result, table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
