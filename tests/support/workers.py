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


async def _serve(processes: int, *, drain: bool) -> None:
    import asyncio
    import signal
    import sys

    from newsflow_ingest.normaliser import Normaliser

    normaliser = Normaliser(processes)
    await normaliser.start()
    print(" ".join(map(str, normaliser.worker_pids())), flush=True)
    if not drain:
        await asyncio.to_thread(sys.stdin.read)
        return
    # As the server does on SIGTERM: keep serving what is in flight, then stop the pool.
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    print("ready", flush=True)
    await stopping.wait()
    ran_in = await asyncio.gather(*(normaliser.run(pid) for _ in range(8)))
    print(" ".join(map(str, sorted(set(ran_in)))), flush=True)
    await normaliser.stop()


if __name__ == "__main__":
    import asyncio
    import sys

    # A server process that starts normalisation workers; the test kills it (or, with
    # "drain", signals its process group and reads which workers served the drain).
    asyncio.run(_serve(int(sys.argv[1]), drain=sys.argv[2:] == ["drain"]))
