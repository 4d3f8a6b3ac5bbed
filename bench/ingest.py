"""Ingest benchmarks: single articles (closed + open loop) and batches, against a bare producer."""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from dataclasses import asdict, dataclass
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from bench.articles import BenchArticle
from bench.kafka import RawRecord, baseline_producer, read_range
from bench.load import LoadResult, closed_loop, open_loop
from newsflow_local.kafka import end_offsets
from newsflow_local.stack import LocalStack
from newsflow_schema import topics

JSON = {"content-type": "application/json"}
# Batches of 1000 need more than the service's default item and body limits.
MAX_BATCH_ITEMS = "1000"
MAX_BATCH_BODY_BYTES = str(64 << 20)


@dataclass(frozen=True, slots=True)
class IngestPlan:
    pool: int  # distinct articles cycled through
    concurrency: int
    closed_s: float
    open_s: float
    rates: tuple[float, ...]
    batch_sizes: tuple[int, ...]
    batch_budget_s: float  # time allowed per batch size (ingest side)


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


async def _prime(client: httpx.AsyncClient, url: str, bodies: list[dict[str, Any]]) -> int:
    """Post the pool once through the batch endpoint (warms the service, fills the topic)."""
    accepted = 0
    for start in range(0, len(bodies), 100):
        chunk = bodies[start : start + 100]
        response = await client.post(f"{url}/v1/articles:batch", json=chunk)
        response.raise_for_status()
        accepted += int(response.json()["accepted"])
    return accepted


def _single_op(client: httpx.AsyncClient, url: str, bodies: list[bytes]) -> Any:
    async def op(seq: int) -> bool:
        response = await client.post(
            f"{url}/v1/articles", content=bodies[seq % len(bodies)], headers=JSON
        )
        return response.status_code == 202

    return op


def _producer_op(producer: AIOKafkaProducer, records: list[RawRecord]) -> Any:
    async def op(seq: int) -> bool:
        record = records[seq % len(records)]
        future = await producer.send(
            topics.RAW, value=record.value, key=record.key, headers=record.headers
        )
        await future
        return True

    return op


def _batch_op(client: httpx.AsyncClient, url: str, body: bytes, size: int) -> Any:
    async def op(_: int) -> bool:
        response = await client.post(f"{url}/v1/articles:batch", content=body, headers=JSON)
        return response.status_code == 202 and int(response.json()["accepted"]) == size

    return op


def _producer_batch_op(producer: AIOKafkaProducer, records: list[RawRecord], size: int) -> Any:
    # What ingest's publish_many does: hand every record over, then await all acks.
    async def op(seq: int) -> bool:
        futures = []
        for i in range(size):
            record = records[(seq * size + i) % len(records)]
            futures.append(
                await producer.send(
                    topics.RAW, value=record.value, key=record.key, headers=record.headers
                )
            )
        for future in futures:
            await future
        return True

    return op


def _pair(ingest: LoadResult, baseline: LoadResult) -> dict[str, Any]:
    ratio = ingest.throughput / baseline.throughput if baseline.throughput else None
    return {
        "ingest": ingest.summary(),
        "baseline": baseline.summary(),
        "throughput_ratio": round(ratio, 4) if ratio is not None else None,
    }


async def run_ingest(
    stack: LocalStack, plan: IngestPlan, articles: list[BenchArticle]
) -> dict[str, Any]:
    """Every ingest measurement; the ingest process runs alone (enrich is not started)."""
    services = stack.services()
    url = services.url("ingest")
    log("starting ingest")
    await asyncio.to_thread(
        services.start,
        "ingest",
        INGEST_MAX_BATCH_ITEMS=MAX_BATCH_ITEMS,
        INGEST_MAX_BATCH_BODY_BYTES=MAX_BATCH_BODY_BYTES,
        # The loops re-post a pool of articles: every post must be published (the full
        # path), not answered "unchanged" from the memory of recent revisions.
        INGEST_RECENT_REVISIONS="0",
    )
    results: dict[str, Any] = {"plan": asdict(plan)}
    try:
        payloads = [a.payload for a in articles[: plan.pool]]
        bodies = [json.dumps(p).encode() for p in payloads]
        results["article_bytes"] = {
            "min": min(a.size for a in articles[: plan.pool]),
            "max": max(a.size for a in articles[: plan.pool]),
            "mean": round(sum(a.size for a in articles[: plan.pool]) / plan.pool),
        }
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
        async with httpx.AsyncClient(timeout=600.0, limits=limits) as client:
            before = await end_offsets(stack.kafka_bootstrap, topics.RAW)
            log(f"priming ingest with {len(payloads)} articles (batch endpoint)")
            primed = await _prime(client, url, payloads)
            after = await end_offsets(stack.kafka_bootstrap, topics.RAW)
            # The baseline sends exactly the bytes ingest published for these articles.
            records = await read_range(stack.kafka_bootstrap, before, after)
            results["primed"] = primed
            log(f"collected {len(records)} published records as baseline payloads")

            producer = baseline_producer(stack.kafka_bootstrap)
            await producer.start()
            try:
                results["single"] = await _single(client, url, bodies, producer, records, plan)
                capacity = float(results["single"]["capacity_articles_s"])
                results["batch"] = await _batches(
                    client, url, payloads, producer, records, plan, capacity
                )
            finally:
                await producer.stop()
    finally:
        await asyncio.to_thread(services.stop, "ingest")
    return results


async def _open_point(
    ingest_op: Any, producer_op: Any, rate: float, duration_s: float, skipped: str | None
) -> dict[str, Any]:
    """One open-loop rate: ingest (unless `skipped` says why not) and the bare producer."""
    entry: dict[str, Any] = {"rate": rate}
    if skipped is not None:
        entry["ingest"] = None
        entry["skipped"] = skipped
    else:
        log(f"single, open loop at {rate:g}/s for {duration_s}s (ingest)")
        result = await open_loop(
            f"ingest single @{rate:g}/s", ingest_op, rate=rate, duration_s=duration_s
        )
        entry["ingest"] = result.summary()
    log(f"single, open loop at {rate:g}/s for {duration_s}s (bare producer)")
    baseline = await open_loop(
        f"bare producer @{rate:g}/s", producer_op, rate=rate, duration_s=duration_s
    )
    entry["baseline"] = baseline.summary()
    return entry


async def _single(
    client: httpx.AsyncClient,
    url: str,
    bodies: list[bytes],
    producer: AIOKafkaProducer,
    records: list[RawRecord],
    plan: IngestPlan,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ingest_op, producer_op = _single_op(client, url, bodies), _producer_op(producer, records)
    log(f"single, closed loop: {plan.concurrency} clients for {plan.closed_s}s (ingest)")
    ingest = await closed_loop(
        "ingest single", ingest_op, concurrency=plan.concurrency, duration_s=plan.closed_s
    )
    log(f"  ingest {ingest.throughput:.1f} articles/s; now the bare producer")
    baseline = await closed_loop(
        "bare producer single", producer_op, concurrency=plan.concurrency, duration_s=plan.closed_s
    )
    log(f"  baseline {baseline.throughput:.1f} records/s")
    out["closed"] = _pair(ingest, baseline)
    capacity = ingest.throughput
    open_results: list[dict[str, Any]] = []
    for rate in plan.rates:
        # Offering far more than the closed loop sustained only grows a queue for minutes:
        # such a rate is recorded as not sustainable instead of being run.
        skipped = None
        if rate > 1.2 * capacity:
            skipped = f"{rate:g}/s is above 1.2x the closed-loop capacity ({capacity:.1f}/s)"
        open_results.append(await _open_point(ingest_op, producer_op, rate, plan.open_s, skipped))
    # One open-loop point at half the measured capacity, so there is always a latency
    # figure at a rate ingest sustains.
    half = max(1.0, round(capacity / 2, 1))
    if all(e["ingest"] is None for e in open_results) or half < min(plan.rates):
        log(f"single, open loop at {half:g}/s (half the capacity) for {plan.open_s}s")
        open_results.append(await _open_point(ingest_op, producer_op, half, plan.open_s, None))
    out["open"] = open_results
    out["capacity_articles_s"] = round(capacity, 1)
    return out


async def _batches(
    client: httpx.AsyncClient,
    url: str,
    payloads: list[dict[str, Any]],
    producer: AIOKafkaProducer,
    records: list[RawRecord],
    plan: IngestPlan,
    capacity: float,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for size in plan.batch_sizes:
        # One batch must fit the budget, judged by the single-article capacity measured
        # above; a batch that would run for minutes is recorded as skipped, with why.
        expected_s = size / capacity if capacity else float("inf")
        if expected_s > plan.batch_budget_s:
            out[str(size)] = {
                "skipped": f"one batch of {size} would take ~{expected_s:.0f}s at the measured "
                f"{capacity:.1f} articles/s; the budget is {plan.batch_budget_s:g}s"
            }
            log(f"batch of {size}: skipped ({out[str(size)]['skipped']})")
            continue
        batch = list(itertools.islice(itertools.cycle(payloads), size))
        body = json.dumps(batch).encode()
        log(f"batch of {size}: closed loop, 1 client, {plan.batch_budget_s}s (ingest)")
        ingest = await closed_loop(
            f"ingest batch {size}",
            _batch_op(client, url, body, size),
            concurrency=1,
            duration_s=plan.batch_budget_s,
            items_per_op=size,
        )
        log(f"  ingest {ingest.throughput:.1f} articles/s; now the bare producer")
        baseline = await closed_loop(
            f"bare producer batch {size}",
            _producer_batch_op(producer, records, size),
            concurrency=1,
            duration_s=min(plan.batch_budget_s, 10.0),
            items_per_op=size,
        )
        log(f"  baseline {baseline.throughput:.1f} records/s")
        out[str(size)] = _pair(ingest, baseline) | {"request_bytes": len(body)}
    return out
