"""Memory of processes from /proc (Linux): peak RSS of a process and of its descendants."""

from __future__ import annotations

from pathlib import Path


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


def _role(pid: int, root: int) -> str:
    if pid == root:
        return "service"
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except FileNotFoundError:
        return "gone"
    # multiprocessing's spawn start method adds a resource tracker beside the workers.
    return "tracker" if b"resource_tracker" in cmdline else "worker"


def tree_peak_rss_mb(pid: int) -> dict[str, float | None]:
    """Peak RSS of `pid` and of every descendant, keyed "role pid" (service/worker/tracker)."""
    out: dict[str, float | None] = {}
    stack = [pid]
    while stack:
        current = stack.pop()
        out[f"{_role(current, pid)} {current}"] = peak_rss_mb(current)
        stack.extend(children(current))
    return out
