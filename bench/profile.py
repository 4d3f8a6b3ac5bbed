"""`python -m bench.profile ingest`: a py-spy profile of the ingest service under bench load."""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from bench.articles import make_articles
from bench.load import closed_loop
from bench.stack import bench_stack
from newsflow_local.paths import local_dir
from newsflow_local.stack import LocalStack

RESULTS = Path(__file__).resolve().parent / "results"


def summarise(collapsed: Path, top: int) -> list[tuple[str, float, float]]:
    """(frame, inclusive %, self %) of the busiest frames in py-spy's collapsed stacks."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = stack.split(";")
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    if not total:
        return []
    return [
        (frame, 100 * n / total, 100 * own[frame] / total)
        for frame, n in inclusive.most_common(top)
    ]


async def _load_ingest(url: str, seconds: float) -> float:
    bodies = [json.dumps(a.payload).encode() for a in make_articles(60, run="profile")]

    async def op(seq: int) -> bool:
        response = await client.post(
            f"{url}/v1/articles",
            content=bodies[seq % len(bodies)],
            headers={"content-type": "application/json"},
        )
        return response.status_code == 202

    async with httpx.AsyncClient(timeout=120.0) as client:
        result = await closed_loop("profile", op, concurrency=16, duration_s=seconds)
    return result.throughput


def profile_ingest(
    stack: LocalStack, seconds: float, top: int, processes: int | None = None
) -> Path:
    """Profile ingest and its normalisation workers (`processes`: INGEST_NORMALISE_PROCESSES,
    None for the default); every process's samples go into one summary."""
    services = stack.services()
    if processes is None:
        proc = services.start("ingest")
    else:
        proc = services.start("ingest", INGEST_NORMALISE_PROCESSES=str(processes))
    RESULTS.mkdir(exist_ok=True)
    # The raw stacks are large (~1 MB): kept in the git-ignored .local/, summarised below.
    raw_dir = local_dir() / "bench-profiles"
    raw_dir.mkdir(parents=True, exist_ok=True)
    collapsed = raw_dir / "profile-ingest.collapsed.txt"
    pyspy = shutil.which("py-spy") or "py-spy"
    spy = subprocess.Popen(
        [pyspy, "record", "--pid", str(proc.pid), "--duration", str(int(seconds)),
         "--format", "raw", "--output", str(collapsed), "--nonblocking", "--subprocesses"],
    )  # fmt: skip
    try:
        rate = asyncio.run(_load_ingest(services.url("ingest"), seconds))
        spy.wait(timeout=seconds + 60)
    finally:
        if spy.poll() is None:
            spy.terminate()
        services.stop("ingest")
    report = RESULTS / "profile-ingest.txt"
    lines = [
        f"ingest (INGEST_NORMALISE_PROCESSES={'default' if processes is None else processes}, "
        f"samples of the server and its workers together) under 16 closed-loop clients: "
        f"{rate:.1f} articles/s; py-spy, {seconds:g} s;",
        f"raw stacks: {collapsed}",
        "",
    ]
    lines += [f"{inc:5.1f}% incl {own:5.1f}% self  {frame}" for frame, inc, own in
              summarise(collapsed, top)]  # fmt: skip
    report.write_text("\n".join(lines) + "\n")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("target", choices=["ingest"])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument(
        "--processes", type=int, help="INGEST_NORMALISE_PROCESSES of the profiled ingest"
    )
    args = parser.parse_args(argv)
    with bench_stack() as stack:
        report = profile_ingest(stack, args.seconds, args.top, args.processes)
    print(report.read_text())
    print(f"bench: wrote {report}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
