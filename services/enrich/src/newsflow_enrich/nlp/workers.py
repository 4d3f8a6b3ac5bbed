"""The NLP process pool: models load once per worker, batches run off the event loop, in budget."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Protocol

from newsflow_enrich.nlp import Analysis, Document, Enricher, NlpConfig, load_enricher

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NlpFailure:
    """The analysis of one document raised: that record is poison, the others are not."""

    error_class: str
    message: str


Outcome = Analysis | NlpFailure


class NlpError(ValueError):
    """An NLP failure as an exception, for the dead-letter record."""

    def __init__(self, failure: NlpFailure) -> None:
        super().__init__(failure.message)
        self.error_class = failure.error_class


class NlpUnavailable(RuntimeError):
    """The worker pool cannot start (models fail to load): wait and retry, like an outage."""


class NlpWorkerDied(RuntimeError):
    """A worker died (SIGKILL, OOM kill, segfault) during these documents; the pool is replaced."""


class NlpBudgetExceeded(RuntimeError):
    """These documents ran past their time budget; the stuck workers were killed."""


class AnalysisRunner(Protocol):
    async def warm_up(self) -> None:
        """Load the models now rather than on the first batch."""
        ...

    async def enrich(self, docs: Sequence[Document]) -> list[Outcome]: ...


@dataclass(frozen=True, slots=True)
class WorkerFaults:
    """Test-only faults a worker obeys (ENRICH_CRASH_AT), matched on a marker in the body.

    `kill_on`: the worker SIGKILLs itself on a document containing it (an OOM kill);
    `slow_on`: the worker sleeps `slow_s` first (a pathological input).
    """

    kill_on: str = ""
    slow_on: str = ""
    slow_s: float = 3600.0

    def obey(self, docs: Sequence[Document]) -> None:
        if self.kill_on and any(self.kill_on in doc.body for doc in docs):
            log.warning("fault injected: NLP worker SIGKILLs itself")
            os.kill(os.getpid(), signal.SIGKILL)
        if self.slow_on and any(self.slow_on in doc.body for doc in docs):
            log.warning("fault injected: NLP worker stalls for %.0f s", self.slow_s)
            time.sleep(self.slow_s)


def analyse(enricher: Enricher, docs: Sequence[Document]) -> list[Outcome]:
    """Analyse a batch; when it raises, analyse one by one to isolate the failing document."""
    try:
        return list(enricher.enrich(docs))
    except Exception:  # noqa: BLE001 - the model's errors are open-ended; isolated below
        log.warning("NLP failed on a batch of %d; retrying one by one", len(docs), exc_info=True)
    outcomes: list[Outcome] = []
    for doc in docs:
        try:
            outcomes.extend(enricher.enrich([doc]))
        except Exception as exc:  # noqa: BLE001 - becomes a dead letter naming the error
            log.exception("NLP failed on document %s", doc.key)
            outcomes.append(NlpFailure(type(exc).__name__, str(exc) or repr(exc)))
    return outcomes


_worker_enricher: Enricher | None = None
_worker_faults: WorkerFaults = WorkerFaults()


def balanced_groups(sizes: Sequence[int], workers: int) -> list[list[int]]:
    """Indices 0..len(sizes)-1 in at most `workers` groups of about equal total size, each in
    order: longest first, each to the lightest group. A batch waits for its slowest worker,
    and the cost of a document grows with its length, not with its place in the batch."""
    groups: list[list[int]] = [[] for _ in range(max(1, min(workers, len(sizes))))]
    loads = [0] * len(groups)
    for i in sorted(range(len(sizes)), key=lambda i: (-sizes[i], i)):
        lightest = loads.index(min(loads))
        groups[lightest].append(i)
        loads[lightest] += sizes[i] + 1
    return [sorted(g) for g in groups if g]


def _init_worker(config: NlpConfig, faults: WorkerFaults) -> None:
    global _worker_enricher, _worker_faults
    _worker_enricher = load_enricher(config)
    _worker_faults = faults


def _run_in_worker(docs: list[Document]) -> list[Outcome]:
    if _worker_enricher is None:
        raise RuntimeError("NLP worker was not initialised")
    _worker_faults.obey(docs)
    return analyse(_worker_enricher, docs)


class ProcessPoolRunner:
    """Runs the enricher in `workers` processes; a batch is split across them.

    Each document has `budget_s` of worker time: a chunk of n documents that has not
    answered after n × budget_s has its workers killed and the pool replaced, so a stuck
    worker never wedges the consumer. A fresh pool is warmed (models loaded) before the
    clock starts, so loading never counts against a document's budget.
    """

    def __init__(
        self,
        config: NlpConfig,
        workers: int,
        *,
        budget_s: float = 60.0,
        faults: WorkerFaults | None = None,
    ) -> None:
        self._config = config
        self._workers = workers
        self._budget_s = budget_s
        self._faults = faults or WorkerFaults()
        self._executor: ProcessPoolExecutor | None = None
        self._warm = False

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn, not fork: forking a process that runs an event loop and threads
            # (uvicorn, aiokafka, asyncpg) copies their locks in whatever state they are.
            self._executor = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self._config, self._faults),
            )
            self._warm = False
        return self._executor

    async def warm_up(self) -> None:
        # Workers spawn on demand and load the model in their initializer: one small
        # document per worker, submitted together, starts them all.
        pool = self._pool()
        doc = Document(key="warm-up", body="Warm-up text from Kyiv.")
        try:
            await self._run(pool, [[doc]] * self._workers)
        except BrokenProcessPool as exc:
            self._discard(pool)
            raise NlpUnavailable(f"NLP workers failed to start: {exc}") from exc
        self._warm = True

    async def enrich(self, docs: Sequence[Document]) -> list[Outcome]:
        if not docs:
            return []
        if not self._warm:
            await self.warm_up()
        pool = self._pool()
        groups = balanced_groups([len(d.body) for d in docs], self._workers)
        chunks = [[docs[i] for i in group] for group in groups]
        size = max(len(c) for c in chunks)
        started = time.monotonic()
        try:
            parts = await asyncio.wait_for(self._run(pool, chunks), self._budget_s * size)
        except BrokenProcessPool as exc:
            self._discard(pool)
            raise NlpWorkerDied(f"an NLP worker died: {exc or type(exc).__name__}") from exc
        except TimeoutError as exc:
            self._discard(pool, kill=True)
            spent = time.monotonic() - started
            raise NlpBudgetExceeded(
                f"{len(docs)} document(s) took over {spent:.1f} s "
                f"(budget {self._budget_s:g} s each); the workers were killed"
            ) from exc
        by_index = {
            i: outcome
            for group, part in zip(groups, parts, strict=True)
            for i, outcome in zip(group, part, strict=True)
        }
        return [by_index[i] for i in range(len(docs))]

    async def _run(
        self, pool: ProcessPoolExecutor, chunks: list[list[Document]]
    ) -> list[list[Outcome]]:
        loop = asyncio.get_running_loop()
        return await asyncio.gather(
            *(loop.run_in_executor(pool, _run_in_worker, chunk) for chunk in chunks)
        )

    def _discard(self, pool: ProcessPoolExecutor, *, kill: bool = False) -> None:
        if self._executor is pool:
            self._executor = None
        if kill:
            # A worker stuck in a regex or a model never reads the shutdown sentinel:
            # only a signal frees its CPU. The executor exposes no other handle on it.
            processes: dict[int, multiprocessing.Process] = getattr(pool, "_processes", {}) or {}
            for process in list(processes.values()):
                process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    async def close(self) -> None:
        pool, self._executor = self._executor, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)


class InlineRunner:
    """Runs an enricher in a thread of this process: for tests and tiny deployments."""

    def __init__(self, enricher: Enricher) -> None:
        self._enricher = enricher

    async def warm_up(self) -> None:
        return None

    async def enrich(self, docs: Sequence[Document]) -> list[Outcome]:
        return await asyncio.to_thread(analyse, self._enricher, list(docs))
