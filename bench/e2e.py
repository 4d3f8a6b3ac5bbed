"""End to end: from POST 202 to readable via the read API and to the enriched event."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer

from bench.articles import BenchArticle
from bench.kafka import GroupWatcher, commit_group_at
from bench.load import percentiles
from newsflow_local.kafka import end_offsets, topic_partitions
from newsflow_local.stack import LocalStack
from newsflow_schema import topics

POLL_S = 0.025


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


class Subscriber:
    """A plain Kafka subscriber of the enriched topic noting when each article arrives."""

    def __init__(self, bootstrap: str) -> None:
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self._bootstrap = bootstrap
        self.arrivals: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._waiting: set[str] = set()
        self._all_arrived = asyncio.Event()

    async def start(self) -> None:
        wanted = await topic_partitions(self._bootstrap, topics.ENRICHED)
        await self._consumer.start()
        self._consumer.assign(wanted)
        await self._consumer.seek_to_end()
        self._task = asyncio.create_task(self._run(), name="bench-subscriber")

    async def _run(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            for messages in batch.values():
                for message in messages:
                    if message.key is not None:
                        self.arrivals.setdefault(message.key.decode(), now)
            if self._waiting and self._waiting <= self.arrivals.keys():
                self._all_arrived.set()

    async def wait_for(self, keys: set[str], timeout_s: float) -> set[str]:
        """Wait until every key arrived or the timeout passed; return the missing keys."""
        self._waiting = set(keys)
        if not self._waiting <= self.arrivals.keys():
            try:
                await asyncio.wait_for(self._all_arrived.wait(), timeout_s)
            except TimeoutError:
                pass
        return self._waiting - self.arrivals.keys()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.sleep(0)
        await self._consumer.stop()


async def run_e2e(
    stack: LocalStack,
    articles: list[BenchArticle],
    *,
    rate: float,
    processes: int,
    timeout_s: float,
) -> dict[str, Any]:
    """Post `articles` at `rate`/s (open loop) with ingest and enrich both running."""
    services = stack.services()
    database = f"bench_e2e_{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(stack.postgres.create_database, database)
    await asyncio.to_thread(stack.migrate, database)
    group = f"bench-e2e-{uuid.uuid4().hex[:8]}"
    await commit_group_at(
        stack.kafka_bootstrap, group, await end_offsets(stack.kafka_bootstrap, topics.RAW)
    )
    log(f"end to end: {len(articles)} articles at {rate:g}/s, enrich with {processes} worker(s)")
    await asyncio.to_thread(
        services.start,
        "enrich",
        ENRICH_GROUP_ID=group,
        ENRICH_WORKERS=str(processes),
        DATABASE_URL=stack.database_url(database),
    )
    subscriber = Subscriber(stack.kafka_bootstrap)
    try:
        await asyncio.to_thread(services.start, "ingest")
        # The consumer joins its group only after its NLP workers loaded the model.
        async with GroupWatcher(stack.kafka_bootstrap, group) as watcher:
            deadline = time.perf_counter() + timeout_s
            while not await watcher.stable():
                if time.perf_counter() > deadline:
                    raise TimeoutError("the enrich consumer did not join its group")
                await asyncio.sleep(0.1)
        await subscriber.start()
        return await _drive(
            services.url("ingest"), services.url("enrich"), articles, rate, subscriber, timeout_s
        )
    finally:
        await subscriber.stop()
        await asyncio.to_thread(services.stop, "ingest")
        await asyncio.to_thread(services.stop, "enrich")


async def _drive(
    ingest_url: str,
    enrich_url: str,
    articles: list[BenchArticle],
    rate: float,
    subscriber: Subscriber,
    timeout_s: float,
) -> dict[str, Any]:
    accepted: dict[str, float] = {}
    readable: dict[str, float] = {}
    post_ms: list[float] = []
    errors: list[str] = []

    async with httpx.AsyncClient(timeout=60.0) as client:

        async def one(article: BenchArticle, intended: float) -> None:
            response = await client.post(
                f"{ingest_url}/v1/articles",
                content=json.dumps(article.payload).encode(),
                headers={"content-type": "application/json"},
            )
            now = time.perf_counter()
            post_ms.append((now - intended) * 1000)
            if response.status_code != 202:
                errors.append(f"POST {response.status_code}: {response.text[:200]}")
                return
            article_id = str(response.json()["id"])
            accepted[article_id] = now
            deadline = now + timeout_s
            while time.perf_counter() < deadline:
                answer = await client.get(f"{enrich_url}/v1/articles/{article_id}")
                if answer.status_code == 200:
                    readable[article_id] = time.perf_counter()
                    return
                await asyncio.sleep(POLL_S)
            errors.append(f"{article_id} not readable within {timeout_s}s")

        tasks: list[asyncio.Task[None]] = []
        started = time.perf_counter()
        for index, article in enumerate(articles):
            intended = started + index / rate
            delay = intended - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(article, intended)))
        await asyncio.gather(*tasks)
    missing = await subscriber.wait_for(set(accepted), timeout_s)
    if missing:
        errors.append(f"{len(missing)} enriched events did not reach the subscriber")
    to_read = [(readable[k] - t) * 1000 for k, t in accepted.items() if k in readable]
    to_event = [
        (subscriber.arrivals[k] - t) * 1000 for k, t in accepted.items() if k in subscriber.arrivals
    ]

    def rounded(values: list[float]) -> dict[str, float | None]:
        return {k: (round(v, 1) if v is not None else None) for k, v in percentiles(values).items()}

    return {
        "rate": rate,
        "articles": len(articles),
        "accepted": len(accepted),
        "errors": len(errors),
        "error_samples": errors[:5],
        "poll_interval_ms": POLL_S * 1000,
        "post_latency_ms": rounded(post_ms),
        "to_readable_ms": rounded(to_read),
        "to_subscriber_ms": rounded(to_event),
    }
