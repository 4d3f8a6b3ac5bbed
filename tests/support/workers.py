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


def _first_started(started: str, timeout_s: float) -> int:
    """The pid of the first worker that said, in `started`, it runs `hold`."""
    deadline = time.monotonic() + timeout_s
    while not (entries := list(Path(started).iterdir())):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no worker started within {timeout_s} s")
        time.sleep(0.01)
    return int(entries[0].name)


async def _serve(processes: int, mode: str) -> None:
    import asyncio
    import signal
    import sys

    from newsflow_ingest.normaliser import Normaliser, NormaliserUnavailableError

    normaliser = Normaliser(processes)
    await normaliser.start()
    first = normaliser.worker_pids()
    print(" ".join(map(str, first)), flush=True)
    if mode.startswith("break:"):
        # One worker holds a request (until the pool ends it), the other is killed: the
        # server meets the broken pool, is served by the fresh one, and exits.
        scratch = mode.removeprefix("break:")
        held = asyncio.ensure_future(normaliser.run(hold, scratch, f"{scratch}/never", 120))
        busy = await asyncio.to_thread(_first_started, scratch, 30.0)
        os.kill(next(p for p in first if p != busy), signal.SIGKILL)
        try:
            await held
        except NormaliserUnavailableError:
            print("refused", busy, flush=True)
        print(await normaliser.run(pid), flush=True)
        await normaliser.stop()
        return
    if mode != "drain":
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
    # "drain", signals its process group and reads which workers served the drain; with
    # "break:DIR", it reads what the server met when one worker died).
    asyncio.run(_serve(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else ""))
