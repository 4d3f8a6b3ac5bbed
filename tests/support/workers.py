"""Functions the tests hand to normalisation workers (importable there, unlike a test's)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def hold(started: str, release: str, timeout_s: float) -> int:
    """Say this worker started (a file named after its pid), then wait for `release`."""
    Path(started, str(os.getpid())).touch()
    deadline = time.monotonic() + timeout_s
    while not Path(release).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{release} was not created within {timeout_s} s")
        time.sleep(0.01)
    return os.getpid()


def pid() -> int:
    return os.getpid()
