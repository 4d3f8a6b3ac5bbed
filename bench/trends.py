"""Trend queries at scale: 1,000,000 generated articles in PostgreSQL, timed queries.

`python -m bench.trends [--articles N] [--days D] [--json PATH]` starts its own PostgreSQL
(free port, throw-away state), generates rows with SQL — articles, a skewed (Zipf-like)
choice of entities per article, stances and quotes; no NLP — fills the rollups the way the
write path keeps them, then times each trends query (median of several runs, warm cache).

Generating takes most of a run; `--keep DIR` leaves the generated database in DIR (server
stopped) and `--reuse DIR` times the queries over it again, migrated to the newest revision
first, without generating anything.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from bench.report import machine_facts
from newsflow_enrich.trends.queries import (
    stance_matrix,
    stances_toward,
    top_entities,
    top_speakers,
)
from newsflow_local.stack import LocalStack, on_free_ports, temporary_stack

END = datetime(2026, 6, 1, tzinfo=UTC)
LABELS = "ARRAY['PERSON','ORG','GPE','LOC','NORP','EVENT']"

GENERATE = (
    "SET LOCAL synchronous_commit = off",
    # Generated rows are consistent by construction: skip the per-row foreign-key triggers.
    "SET LOCAL session_replication_role = replica",
    # A vocabulary of entities; ids are dense so `floor(n * random()^3)` picks a few often.
    f"""INSERT INTO entities (name, label)
        SELECT 'Entity ' || i, ({LABELS})[1 + i % 6]
        FROM generate_series(1, CAST(:entities AS int)) i""",
    """INSERT INTO articles (article_id, body, content_hash, raw_event_id, received_at,
                             published_at, status, version)
       SELECT md5('a' || i)::uuid, 'x', md5('h' || i), md5('r' || i)::uuid, at, at, 'enriched', 1
       FROM generate_series(1, CAST(:articles AS int)) i,
       LATERAL (SELECT CAST(:end AS timestamptz)
                       - make_interval(secs => i * CAST(:span_s AS float8) / :articles) AS at) t""",
    """INSERT INTO article_entities (article_id, entity_id, mention_count, salience, mentions)
       SELECT a.article_id, 1 + floor(CAST(:entities AS int) * random() ^ 3)::bigint,
              1 + (random() * 4)::int, 0.5, '[]'::jsonb
       FROM articles a CROSS JOIN generate_series(1, CAST(:per_article AS int))
       ON CONFLICT DO NOTHING""",
    """INSERT INTO stances (article_id, ordinal, holder, holder_type, target, label, score)
       SELECT a.article_id, k, 'Holder ' || (1 + floor(500 * random() ^ 2)::int), 'speaker',
              'Entity ' || (1 + floor(CAST(:entities AS int) * random() ^ 3)::int),
              (ARRAY['favor','against','neutral'])[1 + (random() * 2)::int], random() * 2 - 1
       FROM articles a CROSS JOIN generate_series(0, 1) k""",
    """INSERT INTO quotes (article_id, ordinal, text, start_char, end_char, kind, speaker,
                           speaker_entity)
       SELECT a.article_id, 0, 'q', 0, 1, 'direct', NULL,
              'Holder ' || (1 + floor(500 * random() ^ 2)::int)
       FROM articles a""",
)

# The rollups in bulk: the same sums the write path adds article by article.
ROLLUP = (
    "SET LOCAL session_replication_role = replica",
    """INSERT INTO entity_trends (grain, bucket, entity_id, label, mentions, articles)
       SELECT g, date_trunc(g, a.published_at, 'UTC'), ae.entity_id, e.label,
              sum(ae.mention_count), count(*)
       FROM article_entities ae JOIN articles a USING (article_id) JOIN entities e USING (entity_id)
       CROSS JOIN unnest(ARRAY['hour', 'day']) g GROUP BY 1, 2, 3, 4""",
    """INSERT INTO stance_trends (grain, bucket, target, holder, label, stances, score_sum)
       SELECT g, date_trunc(g, a.published_at, 'UTC'), s.target, s.holder, s.label,
              count(*), sum(s.score)
       FROM stances s JOIN articles a USING (article_id)
       CROSS JOIN unnest(ARRAY['hour', 'day']) g GROUP BY 1, 2, 3, 4, 5""",
    """INSERT INTO speaker_trends (grain, bucket, speaker, quotes)
       SELECT g, date_trunc(g, a.published_at, 'UTC'), q.speaker_entity, count(*)
       FROM quotes q JOIN articles a USING (article_id)
       CROSS JOIN unnest(ARRAY['hour', 'day']) g GROUP BY 1, 2, 3""",
    # Autovacuum would soon set the visibility map of rows no longer written, which the
    # index-only scans rely on; a bulk load has none yet, so vacuum rather than race it.
    "VACUUM ANALYZE",
)
# What a kept data directory was generated with, written beside it for --reuse.
KEPT = "bench-trends.json"


async def _timed(run: Callable[[], Awaitable[object]], repeat: int) -> dict[str, float]:
    await run()  # warm the cache: the figure is a steady-state query, not a cold disk read
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await run()
        samples.append((time.perf_counter() - started) * 1000)
    return {"median_ms": round(statistics.median(samples), 1), "max_ms": round(max(samples), 1)}


def _queries(conn: AsyncConnection, days: int) -> dict[str, Callable[[], Awaitable[object]]]:
    span = timedelta(days=days)
    return {
        f"top 10 entities, {days} days, per day": lambda: top_entities(
            conn, since=END - span, until=END, grain="day"
        ),
        "top 10 entities, 30 days, per day": lambda: top_entities(
            conn, since=END - timedelta(days=30), until=END, grain="day"
        ),
        "top 10 PERSON entities, 30 days, per day": lambda: top_entities(
            conn, since=END - timedelta(days=30), until=END, grain="day", label="PERSON"
        ),
        "top 10 entities, 7 days, per hour": lambda: top_entities(
            conn, since=END - timedelta(days=7), until=END, grain="hour"
        ),
        f"stances toward the top entity, {days} days, per day": lambda: stances_toward(
            conn, target="Entity 1", since=END - span, until=END, grain="day"
        ),
        "holder x target matrix, 30 days": lambda: stance_matrix(
            conn, since=END - timedelta(days=30), until=END
        ),
        "most-quoted speakers, 30 days": lambda: top_speakers(
            conn, since=END - timedelta(days=30), until=END
        ),
    }


async def _generate(url: str, args: argparse.Namespace) -> dict[str, Any]:
    engine = create_async_engine(url)
    params = {
        "entities": args.entities,
        "articles": args.articles,
        "per_article": args.per_article,
        "end": END,
        "span_s": timedelta(days=args.days).total_seconds(),
    }
    out: dict[str, Any] = {
        "articles": args.articles,
        "days": args.days,
        "entities": args.entities,
        "per_article": args.per_article,
    }
    try:
        started = time.perf_counter()
        async with engine.begin() as conn:
            for statement in GENERATE:
                await conn.execute(text(statement), params)
        out["generate_s"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        async with engine.begin() as conn:
            for statement in ROLLUP[:-1]:
                step = time.perf_counter()
                await conn.execute(text(statement))
                print(
                    f"bench.trends: {statement.split()[:3]} in {time.perf_counter() - step:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
        await _vacuum(url)
        out["rollup_s"] = round(time.perf_counter() - started, 1)
    finally:
        await engine.dispose()
    return out


async def _measure(url: str, out: dict[str, Any], repeat: int) -> dict[str, Any]:
    out["started_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    out["machine"] = machine_facts()
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            out["postgres"] = {
                name: await conn.scalar(text(f"SHOW {name}"))
                for name in ("server_version", "shared_buffers")
            }
            counts = {}
            for table in ("articles", "article_entities", "entity_trends", "stance_trends"):
                counts[table] = int(await conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
            out["rows"] = counts
            load_start = os.getloadavg()
            out["queries"] = {
                name: await _timed(run, repeat) for name, run in _queries(conn, out["days"]).items()
            }
            # The timings share the machine: above its core count, they are not worth quoting.
            out["load_average"] = {
                "cores": os.cpu_count(),
                "start": [round(x, 2) for x in load_start],
                "end": [round(x, 2) for x in os.getloadavg()],
            }
    finally:
        await engine.dispose()
    return out


def _run(stack: LocalStack, args: argparse.Namespace) -> dict[str, Any]:
    print("bench.trends: starting PostgreSQL", file=sys.stderr, flush=True)
    stack.start_postgres()
    stack.migrate()
    url = stack.database_url()
    if args.reuse:
        out = {**json.loads((args.reuse / KEPT).read_text(encoding="utf-8")), "reused": True}
        # A migration may have rewritten the rollups; vacuum as a fresh run does.
        asyncio.run(_vacuum(url))
    else:
        out = asyncio.run(_generate(url, args))
        if args.keep:
            (args.keep / KEPT).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return asyncio.run(_measure(url, out, args.repeat))


async def _vacuum(url: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(ROLLUP[-1]))
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.trends", description=__doc__)
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90, help="the span the articles cover")
    parser.add_argument("--entities", type=int, default=50_000)
    parser.add_argument("--per-article", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", type=Path)
    kept = parser.add_mutually_exclusive_group()
    kept.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="generate into DIR (new or empty) and leave the database there, server stopped",
    )
    kept.add_argument(
        "--reuse",
        type=Path,
        metavar="DIR",
        help="time the queries over the database a --keep run left in DIR; nothing generated",
    )
    args = parser.parse_args(argv)
    if args.keep and args.keep.exists() and any(args.keep.iterdir()):
        parser.error(f"--keep {args.keep}: not empty; give a new directory")
    if args.reuse and not (args.reuse / KEPT).exists():
        parser.error(f"--reuse {args.reuse}: no {KEPT} there; make it with --keep first")
    if args.keep or args.reuse:
        stack = LocalStack(state=args.keep or args.reuse, settings=on_free_ports())
        try:
            result = _run(stack, args)
        finally:
            stack.down()
    else:
        with temporary_stack(f"bench-trends-{time.time_ns()}", on_free_ports()) as stack:
            result = _run(stack, args)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
