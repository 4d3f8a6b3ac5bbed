"""`python -m bench [--quick]`: start a private stack, run every benchmark, write results."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

from bench import report
from bench.articles import make_articles
from bench.e2e import run_e2e
from bench.enrich import EnrichPlan, run_enrich
from bench.ingest import IngestPlan, run_ingest
from bench.stack import bench_stack
from newsflow_local.stack import LocalStack

FULL = {
    "ingest": IngestPlan(
        pool=150, concurrency=32, closed_s=20.0, open_s=10.0,
        rates=(50.0, 200.0, 500.0, 1000.0), batch_sizes=(100, 1000), batch_budget_s=45.0,
    ),
    "enrich_articles": 160,
    "enrich": EnrichPlan(processes=(1, 2), timeout_s=600.0),
    "e2e_seconds": 60.0,
}  # fmt: skip
QUICK = {
    "ingest": IngestPlan(
        pool=30, concurrency=16, closed_s=5.0, open_s=3.0,
        rates=(50.0, 200.0, 500.0, 1000.0), batch_sizes=(100, 1000), batch_budget_s=10.0,
    ),
    "enrich_articles": 16,
    "enrich": EnrichPlan(processes=(1, 2), timeout_s=300.0),
    "e2e_seconds": 10.0,
}  # fmt: skip
PARTS = ("retention", "ingest", "enrich", "e2e")


async def run(
    stack: LocalStack,
    plan: dict[str, Any],
    parts: list[str],
    run_id: str,
    e2e_rate: float | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "ingest" in parts:
        articles = make_articles(plan["ingest"].pool, run=f"{run_id}-ingest")
        out["ingest"] = await run_ingest(stack, plan["ingest"], articles)
    enrich_rate: float | None = None
    if "enrich" in parts:
        articles = make_articles(plan["enrich_articles"], seed=7, run=f"{run_id}-enrich")
        out["enrich"] = await run_enrich(stack, plan["enrich"], articles)
        runs = out["enrich"]["runs"]
        enrich_rate = runs[max(runs, key=int)]["pipeline"]["articles_s"]
    if "e2e" in parts:
        # "A rate the enrich stage sustains": a third of what it measured just now, since
        # ingest now shares the cores (half proved too much on a loaded 2-core machine).
        rate = e2e_rate or round(max(0.5, min(10.0, (enrich_rate or 3.0) / 3)), 1)
        count = max(5, int(rate * plan["e2e_seconds"]))
        articles = make_articles(count, seed=11, run=f"{run_id}-e2e")
        out["e2e"] = await run_e2e(stack, articles, rate=rate, processes=2, timeout_s=120.0)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run (~2-3 min)")
    parser.add_argument(
        "--only", action="append", choices=PARTS, help="run only these parts (repeatable)"
    )
    parser.add_argument(
        "--e2e-rate", type=float, help="articles/s of the end-to-end run (default: enrich/3)"
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    parts = args.only or list(PARTS)
    if "retention" in parts:
        # Text retention needs no stack: measured first, written to its own files.
        from bench import retention

        retention.main([])
        parts = [part for part in parts if part != "retention"]
        if not parts:
            return 0
    started_at = datetime.now(UTC)
    machine = report.machine_facts()
    t0 = time.perf_counter()
    run_id = started_at.strftime("%Y%m%dT%H%M%S")
    try:
        with bench_stack() as stack:
            measured = asyncio.run(run(stack, plan, parts, run_id, args.e2e_rate))
    except KeyboardInterrupt:
        print("bench: interrupted; every process was stopped", file=sys.stderr)
        return 130
    machine["loadavg_end"] = list(os.getloadavg())
    result = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "parts": parts,
        "duration_s": round(time.perf_counter() - t0, 1),
        "machine": machine,
        **measured,
    }
    table = report.markdown(result)
    json_path, md_path = report.write(result, table, readme=not (args.quick or args.only))
    print(table)
    print(f"bench: wrote {json_path} and {md_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
