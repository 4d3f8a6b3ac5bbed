"""`python -m bench.modes`: where ingest normalises, compared in one run.

Ingest is started once per mode and round with `INGEST_NORMALISE_PROCESSES` set (0: threads
of the server process; N: N worker processes) and measured with the closed-loop single
and batch loads of `bench.ingest`. The modes take turns within each round and the order
rotates between rounds, so a machine whose load drifts slows every mode alike: the ratios
between modes are the figures to read, the absolute ones only on a quiet machine.

Before the HTTP rounds, the normalisation of each article shape is timed in this process:
`prepare` as ingest runs it, and for clean text (plain `text` with `title`) also with its
fast path replaced by the general path (`normalise._normalise_scraped`), interleaved.

During every load the CPU time of the server process and of its other processes (the
workers, the fork server) is read from /proc: CPU ms per article does not depend on how
busy the machine is the way throughput does, and shows where the work went.

Results: `results/modes-<date>.json` (every round, machine facts, load average, peak RSS).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench import report
from bench.articles import BenchArticle, make_articles
from bench.ingest import JSON, MAX_BATCH_BODY_BYTES, MAX_BATCH_ITEMS
from bench.load import closed_loop
from bench.procinfo import tree_cpu_seconds, tree_peak_rss_mb
from bench.stack import bench_stack
from newsflow_ingest import normalise
from newsflow_ingest.articles import Limits, prepare
from newsflow_local.stack import LocalStack


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def shape(article: BenchArticle) -> str:
    payload = article.payload
    if "html" in payload:
        return "html page"
    if "title" in payload:
        return "clean text with title"
    return "scraped text"


def _time_per_article(payloads: list[dict[str, Any]], limits: Limits) -> float:
    started = time.perf_counter()
    for payload in payloads:
        prepare(payload, limits)
    return (time.perf_counter() - started) / len(payloads) * 1000


def in_process(articles: list[BenchArticle], repeats: int) -> dict[str, Any]:
    """ms per article of `prepare`, by shape; for clean text also via the general path."""
    limits = Limits(max_text_chars=200_000, max_future=timedelta(days=1), now=datetime.now(UTC))
    normalise.warm_up()
    shapes: dict[str, list[dict[str, Any]]] = {}
    for article in articles:
        shapes.setdefault(shape(article), []).append(article.payload)
    general: Callable[..., normalise.Normalised] = normalise._normalise_scraped
    fast = normalise._normalise_clean
    timings: dict[str, list[float]] = {}
    for _ in range(repeats):
        for name, payloads in shapes.items():
            timings.setdefault(name, []).append(_time_per_article(payloads, limits))
            if name == "clean text with title":
                normalise._normalise_clean = general
                try:
                    timings.setdefault(f"{name}, general path", []).append(
                        _time_per_article(payloads, limits)
                    )
                finally:
                    normalise._normalise_clean = fast
    return {
        name: {"articles": len(shapes[name.split(",")[0]]), "ms": round(min(ms), 3)}
        for name, ms in timings.items()
    }


class CpuMeter:
    """CPU time the server and its other processes (workers, fork server) spend in a load."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before: dict[str, float] = {}

    def start(self) -> None:
        self.before = tree_cpu_seconds(self.pid)

    def per_article_ms(self, articles: int) -> dict[str, float | None]:
        after = tree_cpu_seconds(self.pid)
        used = {key: value - self.before.get(key, 0.0) for key, value in after.items()}
        server = used.pop(f"service {self.pid}", 0.0)
        others = sum(used.values())

        def per(seconds: float) -> float | None:
            return round(seconds * 1000 / articles, 3) if articles else None

        return {"server": per(server), "workers": per(others), "total": per(server + others)}


async def _measure(
    url: str, pid: int, articles: list[BenchArticle], args: argparse.Namespace
) -> dict[str, Any]:
    cpu = CpuMeter(pid)
    bodies = [json.dumps(a.payload).encode() for a in articles]
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(timeout=600.0, limits=limits) as client:

        async def single(seq: int) -> bool:
            response = await client.post(
                f"{url}/v1/articles", content=bodies[seq % len(bodies)], headers=JSON
            )
            return response.status_code == 202

        # Not counted: the first requests of a fresh process (connections, caches).
        await closed_loop("warm-up", single, concurrency=8, duration_s=2.0)
        out: dict[str, Any] = {}
        cpu.start()
        result = await closed_loop(
            "single", single, concurrency=args.clients, duration_s=args.seconds
        )
        out["single"] = result.summary() | {"cpu_ms": cpu.per_article_ms(result.ok)}
        for size in args.batch:
            batch = list(itertools.islice(itertools.cycle(a.payload for a in articles), size))
            body = json.dumps(batch).encode()

            async def post_batch(_: int, body: bytes = body, size: int = size) -> bool:
                response = await client.post(f"{url}/v1/articles:batch", content=body, headers=JSON)
                return response.status_code == 202 and int(response.json()["accepted"]) == size

            cpu.start()
            result = await closed_loop(
                f"batch {size}",
                post_batch,
                concurrency=1,
                duration_s=args.seconds,
                items_per_op=size,
            )
            cpu_ms = cpu.per_article_ms(result.ok * size)
            out[f"batch_{size}"] = result.summary() | {"cpu_ms": cpu_ms}
    return out


async def run_round(
    stack: LocalStack, processes: int, articles: list[BenchArticle], args: argparse.Namespace
) -> dict[str, Any]:
    services = stack.services()
    proc = await asyncio.to_thread(
        services.start,
        "ingest",
        INGEST_NORMALISE_PROCESSES=str(processes),
        INGEST_MAX_BATCH_ITEMS=MAX_BATCH_ITEMS,
        INGEST_MAX_BATCH_BODY_BYTES=MAX_BATCH_BODY_BYTES,
        # Every post of the cycled pool must be published, not answered "unchanged".
        INGEST_RECENT_REVISIONS="0",
    )
    try:
        figures = await _measure(services.url("ingest"), proc.pid, articles, args)
        # Peak RSS: a worker's pages shared with the fork server count in both.
        return {"loadavg": list(os.getloadavg()), "peak_rss_mb": tree_peak_rss_mb(proc.pid)} | (
            figures
        )
    finally:
        await asyncio.to_thread(services.stop, "ingest")


def _label(processes: int) -> str:
    return "threads" if processes == 0 else f"{processes} worker process(es)"


async def run(stack: LocalStack, args: argparse.Namespace) -> dict[str, Any]:
    articles = make_articles(args.pool, run=datetime.now(UTC).strftime("modes-%Y%m%dT%H%M%S"))
    rounds: list[dict[str, Any]] = []
    modes: list[int] = args.processes
    for number in range(args.rounds):
        # Rotate the order: each mode runs first, second, ... equally often.
        order = modes[number % len(modes) :] + modes[: number % len(modes)]
        for processes in order:
            log(f"round {number + 1}/{args.rounds}: {_label(processes)}")
            figures = await run_round(stack, processes, articles, args)
            rounds.append({"round": number + 1, "processes": processes} | figures)
            log(
                f"  single {figures['single']['throughput_items_s']}/s; "
                + "; ".join(
                    f"batch {size} {figures[f'batch_{size}']['throughput_items_s']}/s"
                    for size in args.batch
                )
            )
    return {"rounds": rounds, "summary": summarise(rounds, modes, args.batch)}


def summarise(rounds: list[dict[str, Any]], modes: list[int], sizes: list[int]) -> dict[str, Any]:
    """Median articles/s of each mode and load, and its ratio to the first mode's."""
    loads = ["single", *(f"batch_{size}" for size in sizes)]
    medians: dict[str, dict[str, float]] = {}
    for processes in modes:
        mine = [r for r in rounds if r["processes"] == processes]
        medians[str(processes)] = {
            load: statistics.median(r[load]["throughput_items_s"] for r in mine) for load in loads
        }
    base = medians[str(modes[0])]

    def cpu(mode: str, load: str, part: str) -> float | None:
        values = [r[load]["cpu_ms"][part] for r in rounds if str(r["processes"]) == mode]
        known = [v for v in values if v is not None]
        return round(statistics.median(known), 3) if known else None

    return {
        mode: {
            load: {
                "articles_s": value,
                "vs_first_mode": round(value / base[load], 3) if base[load] else None,
                "errors": sum(r[load]["errors"] for r in rounds if str(r["processes"]) == mode),
                "cpu_ms": {part: cpu(mode, load, part) for part in ("server", "workers")},
            }
            for load, value in figures.items()
        }
        for mode, figures in medians.items()
    }


def _throughput_cell(entry: dict[str, Any]) -> str:
    ratio, errors = entry["vs_first_mode"], entry["errors"]
    return f"{entry['articles_s']:.1f} (×{ratio:.2f}, errors {errors})"


def _cpu_cell(entry: dict[str, Any]) -> str:
    return " / ".join("–" if v is None else f"{v:.2f}" for v in entry["cpu_ms"].values())


def table(result: dict[str, Any]) -> str:
    modes, sizes = result["processes"], result["batch"]
    loads = ["single", *(f"batch_{size}" for size in sizes)]
    heads = [f"single, {result['clients']} clients", *(f"batches of {size}" for size in sizes)]
    start, end = result["machine"]["loadavg_start"][0], result["machine"]["loadavg_end"][0]
    lines = [
        f"Run {result['started_at']}, {result['round_count']} rounds of "
        f"{result['seconds']:g} s per load; load average at start {start:.2f}, at end "
        f"{end:.2f}. Median articles/s over the rounds (× the first mode's).",
    ]
    cpu_caption = "CPU ms per article (median over the rounds): server process / worker processes."
    for caption, cell in ((None, _throughput_cell), (cpu_caption, _cpu_cell)):
        if caption:
            lines += ["", caption]
        lines += [
            "",
            "| normalisation | " + " | ".join(heads) + " |",
            "|---|" + "---|" * len(loads),
        ]
        for processes in modes:
            summary = result["summary"][str(processes)]
            cells = [cell(summary[load]) for load in loads]
            lines.append(f"| {_label(processes)} | " + " | ".join(cells) + " |")
    lines += ["", "| in process, per article | ms |", "|---|---|"]
    for name, entry in result["in_process"].items():
        lines.append(f"| {name} ({entry['articles']}) | {entry['ms']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.modes", description=__doc__)
    parser.add_argument(
        "--processes",
        type=int,
        nargs="+",
        default=[0, 1, 2],
        help="INGEST_NORMALISE_PROCESSES values to compare; the first is the reference",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0, help="per load and round")
    parser.add_argument("--clients", type=int, default=32, help="single-article clients")
    parser.add_argument("--batch", type=int, nargs="*", default=[100, 1000])
    parser.add_argument("--pool", type=int, default=150, help="distinct articles cycled")
    parser.add_argument("--repeats", type=int, default=5, help="in-process timing repeats")
    args = parser.parse_args(argv)

    started_at = datetime.now(UTC)
    machine = report.machine_facts()
    log("timing normalisation in process")
    measured_in_process = in_process(make_articles(args.pool), args.repeats)
    with bench_stack() as stack:
        measured = asyncio.run(run(stack, args))
    machine["loadavg_end"] = list(os.getloadavg())
    result = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "machine": machine,
        **{key: getattr(args, key) for key in ("processes", "seconds", "clients")},
        "round_count": args.rounds,
        "batch": args.batch,
        "in_process": measured_in_process,
        **measured,
    }
    report.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = report.RESULTS_DIR / f"modes-{started_at:%Y-%m-%d}.json"
    runs = json.loads(path.read_text())["runs"] if path.exists() else []
    path.write_text(json.dumps({"runs": [*runs, result]}, indent=2) + "\n")
    print(table(result))
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
