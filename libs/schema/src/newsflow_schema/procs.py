"""Processes from /proc: whether one still runs, and its stat fields, as the services,
the local runner, the bench and the tests need them."""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")


def stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/`pid`/stat after the command name (state first: `proc(5)`'s
    field 3 is index 0); None when it cannot be read (gone, or no /proc)."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name, in parentheses, may hold spaces and parentheses of its own.
    return stat[stat.rindex(")") + 2 :].split()


def alive(pid: int) -> bool:
    """True while process `pid` runs. A zombie (exited, not reaped yet: a container's init
    may never reap it) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = stat_fields(pid)
    if fields is None:
        # No /proc here: kill() found the process. With /proc: it exited just now.
        return not _PROC.joinpath("self").exists()
    return fields[0] not in ("Z", "X")
