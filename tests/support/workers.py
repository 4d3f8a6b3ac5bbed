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


async def _serve_until_stdin_closes(processes: int) -> None:
    import asyncio
    import sys

    from newsflow_ingest.normaliser import Normaliser

    normaliser = Normaliser(processes)
    await normaliser.start()
    print(" ".join(map(str, normaliser.worker_pids())), flush=True)
    await asyncio.to_thread(sys.stdin.read)


if __name__ == "__main__":
    import asyncio
    import sys

    # A server process that starts normalisation workers and is then killed by the test.
    asyncio.run(_serve_until_stdin_closes(int(sys.argv[1])))
