"""Load drivers: closed loop (C clients) and open loop (fixed rate, no coordinated omission)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

# One operation: given its sequence number, do it and say whether it succeeded.
Operation = Callable[[int], Awaitable[bool]]


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50/p95/p99/max/mean of `values` (nearest-rank), None when there are none."""
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    return {
        "p50": rank(0.50),
        "p95": rank(0.95),
        "p99": rank(0.99),
        "max": ordered[-1],
        "mean": sum(ordered) / len(ordered),
    }


@dataclass
class LoadResult:
    """What one load run measured; latencies in milliseconds."""

    name: str
    mode: str
    duration_s: float
    ok: int
    errors: int
    items_per_op: int = 1
    target_rate: float | None = None
    concurrency: int | None = None
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    error_samples: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        """Successful items per second (an item is an article; a batch op holds many)."""
        return self.ok * self.items_per_op / self.duration_s if self.duration_s else 0.0

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("latencies_ms")
        data["throughput_items_s"] = round(self.throughput, 1)
        data["latency_ms"] = {
            k: (round(v, 2) if v is not None else None)
            for k, v in percentiles(self.latencies_ms).items()
        }
        return data


class _Tally:
    def __init__(self) -> None:
        self.ok = 0
        self.errors = 0
        self.latencies: list[float] = []
        self.samples: list[str] = []

    async def run(self, op: Operation, seq: int, start: float) -> None:
        try:
            good = await op(seq)
        except Exception as exc:  # noqa: BLE001 - any failure of the system under test counts
            good = False
            if len(self.samples) < 5:
                self.samples.append(repr(exc))
        self.latencies.append((time.perf_counter() - start) * 1000)
        if good:
            self.ok += 1
        else:
            self.errors += 1


async def closed_loop(
    name: str,
    op: Operation,
    *,
    concurrency: int,
    duration_s: float,
    max_ops: int | None = None,
    items_per_op: int = 1,
) -> LoadResult:
    """`concurrency` clients, each sending its next request when the previous one answered."""
    tally = _Tally()
    counter = iter(range(10**12))
    started = time.perf_counter()
    deadline = started + duration_s

    async def client() -> None:
        while time.perf_counter() < deadline:
            seq = next(counter)
            if max_ops is not None and seq >= max_ops:
                return
            await tally.run(op, seq, time.perf_counter())

    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return LoadResult(
        name=name,
        mode="closed",
        duration_s=elapsed,
        ok=tally.ok,
        errors=tally.errors,
        items_per_op=items_per_op,
        concurrency=concurrency,
        latencies_ms=tally.latencies,
        error_samples=tally.samples,
    )


async def open_loop(
    name: str, op: Operation, *, rate: float, duration_s: float, drain_s: float = 15.0
) -> LoadResult:
    """Start request i at t0 + i/rate whatever earlier ones do; latency counts from then.

    Measuring from the intended start, not the actual one, keeps a stalled system from
    hiding its queueing delay (coordinated omission).
    """
    tally = _Tally()
    total = int(rate * duration_s)
    tasks: list[asyncio.Task[None]] = []
    started = time.perf_counter()
    for seq in range(total):
        intended = started + seq / rate
        delay = intended - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(tally.run(op, seq, intended)))
    sent_until = time.perf_counter()
    done, pending = await asyncio.wait(tasks, timeout=drain_s) if tasks else (set(), set())
    for task in pending:
        task.cancel()
    tally.errors += len(pending)
    elapsed = max(time.perf_counter() - started, sent_until - started)
    return LoadResult(
        name=name,
        mode="open",
        duration_s=elapsed,
        ok=tally.ok,
        errors=tally.errors,
        target_rate=rate,
        latencies_ms=tally.latencies,
        error_samples=tally.samples,
    )
