"""Whether a process is still running, as the services and the local runner need to know."""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")


def alive(pid: int) -> bool:
    """True while process `pid` runs. A zombie (exited, not reaped yet: a container's init
    may never reap it) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        # No /proc here: kill() found the process. With /proc: it exited just now.
        return not _PROC.joinpath("self").exists()
    return stat[stat.rindex(")") + 2 :].split()[0] not in ("Z", "X")
