"""Processes from /proc (Linux): peak RSS and CPU time of a process and of its descendants."""

from __future__ import annotations

import os
from pathlib import Path

from newsflow_schema.procs import stat_fields


def peak_rss_mb(pid: int | str = "self") -> float | None:
    """VmHWM (peak resident set) of `pid` in MiB; None when the process is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.extend(int(c) for c in (task / "children").read_text().split())
        except FileNotFoundError:
            continue
    return found


def _role(pid: int, root: int, parent_role: str | None) -> str:
    if pid == root:
        return "service"
    if parent_role == "fork server":
        return "worker"  # forked from it: the same command line
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except FileNotFoundError:
        return "gone"
    # multiprocessing's spawn start method adds a resource tracker beside the workers;
    # forkserver also a fork server, the parent of the workers.
    if b"resource_tracker" in cmdline:
        return "tracker"
    return "fork server" if b"multiprocessing.forkserver" in cmdline else "worker"


def descendants(pid: int) -> list[tuple[int, str]]:
    """`pid` and every process below it, each with its role (service/fork server/worker/
    tracker)."""
    found: list[tuple[int, str]] = []
    stack: list[tuple[int, str | None]] = [(pid, None)]
    while stack:
        current, parent_role = stack.pop()
        role = _role(current, pid, parent_role)
        found.append((current, role))
        stack.extend((child, role) for child in children(current))
    return found


def tree_peak_rss_mb(pid: int) -> dict[str, float | None]:
    """Peak RSS of `pid` and of every descendant, keyed "role pid"."""
    return {f"{role} {current}": peak_rss_mb(current) for current, role in descendants(pid)}


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time `pid` has used so far; None when the process is gone."""
    fields = stat_fields(pid)
    if fields is None:
        return None
    # utime and stime: proc(5) fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds of `pid` and of every descendant, keyed "role pid"."""
    out: dict[str, float] = {}
    for current, role in descendants(pid):
        used = cpu_seconds(current)
        if used is not None:
            out[f"{role} {current}"] = used
    return out
