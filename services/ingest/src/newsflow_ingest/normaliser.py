"""Where validation and normalisation run: worker processes, or threads of the server.

Both are CPU-bound Python. In threads (`INGEST_NORMALISE_PROCESSES=0`) they hold the GIL,
so one core serves them and the event loop (HTTP, Kafka) together. Worker processes have
an interpreter each, so every core can normalise while the event loop answers.

The workers are forked from a fork server that imported and warmed up the normalisation
code once (`newsflow_ingest.preload`): a worker starts in milliseconds, with dateparser's
language data already loaded, and none is a fork of the server process with its event
loop and threads. A worker that dies (killed, out of memory, a crash in a C extension)
breaks the pool: the requests it held are answered 503 with Retry-After, and the pool is
replaced by a fresh one as soon as the broken one has ended its other workers (requests
arriving meanwhile wait for it). The two never overlap: a pool started while the broken
one still closes its pipes in its own thread can hand the fork server a closed descriptor,
which ends the fork server.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from newsflow_ingest.normalise import warm_up
from newsflow_schema import logs
from newsflow_schema.http import ServiceUnavailable
from newsflow_schema.procs import alive

log = logging.getLogger(__name__)

T = TypeVar("T")

_PRELOAD = "newsflow_ingest.preload"
# How often a worker checks that the server process that started it is still there.
_WATCH_INTERVAL_S = 1.0
# How long a broken pool may take to end its workers before a fresh one starts anyway.
_BROKEN_POOL_GRACE_S = 10.0


class NormaliserUnavailableError(ServiceUnavailable):
    """No normalisation worker could take the article (one died): answered 503, retry."""

    dependency = "normalisation"
    slug = "normaliser-unavailable"


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # Takes effect when the fork server starts (first pool of this process); it is one
    # per process, so later pools share it.
    context.set_forkserver_preload([_PRELOAD])
    return context


_startup_barrier: Any = None


def _watch_server(server_pid: int) -> None:
    while alive(server_pid):
        time.sleep(_WATCH_INTERVAL_S)
    # The server was killed without stopping the pool: no work will ever come again.
    os._exit(0)


def _init_worker(server_pid: int, barrier: Any, log_level: str, json_lines: bool) -> None:
    global _startup_barrier  # noqa: PLW0603 - one per worker process
    # The server's shutdown drains in-flight requests and then stops the pool: a SIGTERM
    # or Ctrl-C sent to the server's process group must not kill the workers first. Each
    # worker is a process group of its own (as the fork server is), and keeps SIGTERM's
    # default: a broken pool terminates its other workers, and waits for them to exit.
    os.setpgid(0, 0)
    logs.configure("ingest", log_level, json_lines=json_lines)
    _startup_barrier = barrier
    threading.Thread(target=_watch_server, args=(server_pid,), daemon=True).start()
    warm_up()


def _check_in(timeout_s: float) -> int:
    # Every worker holds one check-in until all have started (and warmed up).
    _startup_barrier.wait(timeout_s)
    return os.getpid()


class Normaliser:
    """Runs preparation functions in `processes` worker processes, or in threads when 0."""

    def __init__(
        self,
        processes: int,
        *,
        log_level: str = "info",
        json_lines: bool = True,
        start_timeout_s: float = 120.0,
        on_restart: Callable[[], None] | None = None,
    ) -> None:
        self.processes = processes
        self._log = (log_level, json_lines)
        self._start_timeout_s = start_timeout_s
        self._on_restart = on_restart
        self._executor: ProcessPoolExecutor | None = None
        self._restarting: asyncio.Task[None] | None = None
        self._stopped = False

    def _new_executor(self, barrier: Any = None) -> ProcessPoolExecutor:
        context = _context()
        return ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=context,
            initializer=_init_worker,
            initargs=(os.getpid(), barrier, *self._log),
        )

    async def start(self) -> None:
        """Start every worker and wait until each has warmed up (threads: warm up here)."""
        self._stopped = False
        if self.processes == 0:
            # dateparser loads its language data on first use (seconds): pay that at
            # start-up, not in the first client's request.
            await asyncio.to_thread(warm_up)
            return
        barrier = _context().Barrier(self.processes)
        executor = self._new_executor(barrier)
        loop = asyncio.get_running_loop()
        # Workers are started on demand: one check-in per worker, all held at the
        # barrier, makes the pool start them all.
        check_ins = [
            loop.run_in_executor(executor, _check_in, self._start_timeout_s)
            for _ in range(self.processes)
        ]
        try:
            pids = await asyncio.gather(*check_ins)
        except (BrokenProcessPool, threading.BrokenBarrierError) as exc:
            executor.shutdown(wait=False, cancel_futures=True)
            raise NormaliserUnavailableError(
                f"the {self.processes} normalisation worker(s) did not start: "
                f"{exc or type(exc).__name__}"
            ) from exc
        self._executor = executor
        log.info("normalisation workers ready", extra={"pids": sorted(pids)})

    async def stop(self) -> None:
        """Stop the workers (after the server drained its requests)."""
        self._stopped = True
        if self._restarting is not None:
            await self._restarting
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in a worker (or a thread); 503 (NormaliserUnavailableError) when the
        worker died, after which a fresh pool takes the next requests."""
        if self.processes == 0:
            return await asyncio.to_thread(fn, *args)
        if self._restarting is not None:
            await asyncio.shield(self._restarting)
        executor = self._executor
        if executor is None:
            reason = "the server is stopping" if self._stopped else "the workers are not started"
            raise NormaliserUnavailableError(f"normalisation is unavailable: {reason}")
        try:
            future = executor.submit(fn, *args)
        except (RuntimeError, OSError, EOFError) as exc:
            # Broken already (BrokenProcessPool is a RuntimeError), or no worker could be
            # started for it (the fork server failed to fork).
            self._replace(executor)
            raise NormaliserUnavailableError(
                f"no normalisation worker could take this request ({exc or type(exc).__name__}); "
                "the workers were restarted, retry (re-posting is safe: the id stays the same)"
            ) from exc
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool as exc:
            self._replace(executor)
            raise NormaliserUnavailableError(
                "a normalisation worker died while holding this request; the workers "
                "were restarted, retry (re-posting is safe: the id stays the same)"
            ) from exc

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        if self._executor is not broken:
            return  # another request met the same broken pool and replaced it
        log.warning("a normalisation worker died: replacing the worker pool")
        self._executor = None
        self._restarting = asyncio.get_running_loop().create_task(self._restart(broken))
        if self._on_restart is not None:
            self._on_restart()

    async def _restart(self, broken: ProcessPoolExecutor) -> None:
        # The broken pool terminates its other workers and joins them, then closes its
        # queues: only then does the fresh pool start (see the module's docstring).
        ended = asyncio.to_thread(broken.shutdown, wait=True, cancel_futures=True)
        try:
            await asyncio.wait_for(ended, _BROKEN_POOL_GRACE_S)
        except TimeoutError:
            log.error(
                "the broken normalisation pool did not end within %.0f s; starting a fresh "
                "one beside it",
                _BROKEN_POOL_GRACE_S,
            )
        finally:
            self._restarting = None
        if not self._stopped:
            # Workers start on demand and warm up in their initializer; forked from the warm
            # fork server, the first request of the fresh pool waits milliseconds for one.
            self._executor = self._new_executor()

    def worker_pids(self) -> list[int]:
        """The process ids of the running workers (none in thread mode)."""
        executor = self._executor
        if executor is None:
            return []
        return sorted(executor._processes or {})  # the executor has no public accessor
