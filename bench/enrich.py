"""Enrich benchmarks: the pipeline on a pre-filled raw topic vs bare nlp.pipe and the enricher."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
from aiokafka import TopicPartition

from bench.articles import BenchArticle
from bench.kafka import GroupWatcher, commit_group_at, read_range
from bench.procinfo import cpu_seconds, peak_rss_mb, tree_cpu_seconds, tree_peak_rss_mb
from newsflow_enrich.nlp import Document, NlpConfig, load_enricher
from newsflow_enrich.pipeline import document_for
from newsflow_local.kafka import end_offsets
from newsflow_local.procs import recorded_pid
from newsflow_local.stack import LocalStack
from newsflow_schema import ArticleRawEvent, decode, topics

MODEL = NlpConfig().spacy_model
BATCH = NlpConfig().batch_size


@dataclass(frozen=True, slots=True)
class EnrichPlan:
    processes: tuple[int, ...]
    timeout_s: float


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# --- the raw topic ---------------------------------------------------------------------


async def prefill(
    stack: LocalStack, articles: list[BenchArticle]
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int], list[Document]]:
    """Post `articles` through ingest; return the raw topic's range and their documents."""
    services = stack.services()
    url = services.url("ingest")
    start = await end_offsets(stack.kafka_bootstrap, topics.RAW)
    log(f"pre-filling the raw topic with {len(articles)} articles through ingest")
    await asyncio.to_thread(services.start, "ingest")
    try:
        async with httpx.AsyncClient(timeout=600.0) as client:
            for first in range(0, len(articles), 100):
                chunk = [a.payload for a in articles[first : first + 100]]
                response = await client.post(f"{url}/v1/articles:batch", json=chunk)
                response.raise_for_status()
                if response.json()["accepted"] != len(chunk):
                    raise RuntimeError(f"ingest refused part of the pre-fill: {response.text}")
    finally:
        await asyncio.to_thread(services.stop, "ingest")
    end = await end_offsets(stack.kafka_bootstrap, topics.RAW)
    records = await read_range(stack.kafka_bootstrap, start, end)
    docs = [document_for(decode(ArticleRawEvent, r.value)) for r in records]
    if len({d.key for d in docs}) != len(articles):
        raise RuntimeError("pre-filled articles do not have distinct ids")
    return start, end, docs


# --- baselines in a process pool ---------------------------------------------------------

_work: Callable[[list[Document]], int] | None = None


def _init_pipe(model: str) -> None:
    import spacy

    from newsflow_enrich.nlp.enricher import model_location

    global _work
    nlp = spacy.load(model_location(model))

    def work(docs: list[Document]) -> int:
        return sum(1 for _ in nlp.pipe([d.body for d in docs], batch_size=BATCH))

    _work = work


def _init_enricher(model: str) -> None:
    global _work
    enricher = load_enricher(NlpConfig(spacy_model=model))

    def work(docs: list[Document]) -> int:
        return len(enricher.enrich(docs))

    _work = work


def _run(docs: list[Document]) -> tuple[int, int, float | None]:
    if _work is None:
        raise RuntimeError("worker not initialised")
    return _work(docs), os.getpid(), peak_rss_mb()


def _warm(seconds: float) -> int:
    # Holding each worker busy for a moment makes the pool hand one warm-up to each.
    _run([Document(key="warm", body="Warm-up text from Kyiv, said Olga Petrenko.")])
    time.sleep(seconds)
    return os.getpid()


def baseline(kind: str, docs: Sequence[Document], processes: int) -> dict[str, Any]:
    """Wall time of `docs` through `kind` (pipe | enricher) in `processes` spawned workers."""
    initializer = _init_pipe if kind == "pipe" else _init_enricher
    with ProcessPoolExecutor(
        max_workers=processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=initializer,
        initargs=(MODEL,),
    ) as pool:
        warmed = set(pool.map(_warm, [0.5] * processes))
        # Small runs still give every process work: chunks of at most the NLP batch size.
        size = max(1, min(BATCH, -(-len(docs) // processes)))
        chunks = [list(docs[i : i + size]) for i in range(0, len(docs), size)]
        started = time.perf_counter()
        outcomes = list(pool.map(_run, chunks))
        elapsed = time.perf_counter() - started
    done = sum(n for n, _, _ in outcomes)
    rss: dict[str, float | None] = {}
    for _, pid, peak in outcomes:
        rss[str(pid)] = peak
    return {
        "kind": kind,
        "processes": processes,
        "workers_warmed": len(warmed),
        "articles": done,
        "seconds": round(elapsed, 3),
        "articles_s": round(done / elapsed, 3),
        "worker_peak_rss_mb": {k: round(v, 1) if v else None for k, v in rss.items()},
    }


# --- the pipeline ------------------------------------------------------------------------


async def _records_outcomes(url: str) -> dict[str, float]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        text = (await client.get(f"{url}/metrics")).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(
            (
                "enrich_records_total{",
                "enrich_outbox_published_total ",
                "enrich_nlp_seconds_sum ",
                "enrich_nlp_seconds_count ",
            )
        ):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def _cpu(enrich_pid: int, stack: LocalStack) -> dict[str, float]:
    """CPU seconds so far of enrich's processes, of PostgreSQL's (summed), of the Kafka
    broker(s) and of this process (the load driver, polling the group's offsets)."""
    used = tree_cpu_seconds(enrich_pid)
    postmaster = int((stack.postgres.data / "postmaster.pid").read_text().split()[0])
    used["postgresql (all processes)"] = sum(tree_cpu_seconds(postmaster).values())
    brokers = 0.0
    for node in stack.kafka.nodes:
        pid = recorded_pid(node.state, node.name)
        if pid is not None:
            brokers += cpu_seconds(pid) or 0.0
    used["kafka broker(s)"] = brokers
    used["bench load driver"] = time.process_time()
    return used


async def pipeline(
    stack: LocalStack,
    start: dict[TopicPartition, int],
    end: dict[TopicPartition, int],
    processes: int,
    timeout_s: float,
) -> dict[str, Any]:
    """Enrich with `processes` NLP workers on the pre-filled range, on a fresh database."""
    database = f"bench_w{processes}_{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(stack.postgres.create_database, database)
    await asyncio.to_thread(stack.migrate, database)
    group = f"bench-enrich-w{processes}-{uuid.uuid4().hex[:8]}"
    await commit_group_at(stack.kafka_bootstrap, group, start)
    total = sum(end[tp] - start.get(tp, 0) for tp in end)
    services = stack.services()
    log(f"enrich pipeline, {processes} worker(s), {total} articles")
    proc = await asyncio.to_thread(
        services.start,
        "enrich",
        ENRICH_GROUP_ID=group,
        ENRICH_WORKERS=str(processes),
        DATABASE_URL=stack.database_url(database),
    )
    try:
        t_stable = t_first = t_done = None
        first_count = 0
        cpu_start: dict[str, float] = {}
        cpu_end: dict[str, float] = {}
        deadline = time.perf_counter() + timeout_s
        async with GroupWatcher(stack.kafka_bootstrap, group) as watcher:
            while t_done is None:
                now = time.perf_counter()
                if now > deadline:
                    raise TimeoutError(f"enrich did not commit {total} records in {timeout_s}s")
                if t_stable is None and await watcher.stable():
                    t_stable = now
                    cpu_start = _cpu(proc.pid, stack)
                committed = await watcher.committed()
                done = sum(committed.get(tp, start.get(tp, 0)) - start.get(tp, 0) for tp in end)
                if t_first is None and done > 0:
                    t_first, first_count = now, done
                if done >= total:
                    t_done = now
                    cpu_end = _cpu(proc.pid, stack)
                await asyncio.sleep(0.05)
        assert t_first is not None
        t_start = t_stable if t_stable is not None else t_first
        metrics = await _records_outcomes(services.url("enrich"))
        rss = tree_peak_rss_mb(proc.pid)
    finally:
        await asyncio.to_thread(services.stop, "enrich")
    steady = (total - first_count) / (t_done - t_first) if t_done > t_first else None
    nlp_s = metrics.get("enrich_nlp_seconds_sum")
    return {
        "processes": processes,
        "articles": total,
        "seconds": round(t_done - t_start, 3),
        "articles_s": round(total / (t_done - t_start), 3),
        "steady_articles_s": round(steady, 3) if steady else None,
        "first_commit_after_s": round(t_first - t_start, 3),
        "first_commit_records": first_count,
        "measured_from": "group stable" if t_stable is not None else "first commit",
        "metrics": metrics,
        # Wall time of the NLP stage inside the pipeline (the rest is Kafka, DB, outbox).
        "nlp_share_of_wall": round(nlp_s / (t_done - t_start), 3) if nlp_s else None,
        "peak_rss_mb": {k: round(v, 1) if v else None for k, v in rss.items()},
        # CPU seconds each process used from the group's Stable to the last commit (empty
        # when the group was not seen Stable): what the service process takes from the NLP.
        "cpu_s": {k: round(v - cpu_start.get(k, 0.0), 2) for k, v in cpu_end.items()}
        if cpu_start
        else {},
    }


async def run_enrich(
    stack: LocalStack, plan: EnrichPlan, articles: list[BenchArticle]
) -> dict[str, Any]:
    start, end, docs = await prefill(stack, articles)
    words = sum(len(d.body.split()) for d in docs)
    results: dict[str, Any] = {
        "articles": len(docs),
        "words": words,
        "model": MODEL,
        "nlp_batch_size": BATCH,
        "runs": {},
    }
    for processes in plan.processes:
        run: dict[str, Any] = {}
        log(f"baseline: bare nlp.pipe, {processes} process(es)")
        run["nlp_pipe"] = await asyncio.to_thread(baseline, "pipe", docs, processes)
        log(f"  {run['nlp_pipe']['articles_s']} articles/s")
        log(f"baseline: the project's enricher called directly, {processes} process(es)")
        run["enricher"] = await asyncio.to_thread(baseline, "enricher", docs, processes)
        log(f"  {run['enricher']['articles_s']} articles/s")
        run["pipeline"] = await pipeline(stack, start, end, processes, plan.timeout_s)
        log(f"  pipeline {run['pipeline']['articles_s']} articles/s")
        rate = run["pipeline"]["articles_s"]
        run["ratio_vs_nlp_pipe"] = round(rate / run["nlp_pipe"]["articles_s"], 4)
        run["ratio_vs_enricher"] = round(rate / run["enricher"]["articles_s"], 4)
        results["runs"][str(processes)] = run
    return results
