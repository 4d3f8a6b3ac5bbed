"""The NLP process pool: models load once per worker, batches run off the event loop."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
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
    """The worker pool died (a worker was killed); the batch is retried on a fresh pool."""


class AnalysisRunner(Protocol):
    async def warm_up(self) -> None:
        """Load the models now rather than on the first batch."""
        ...

    async def enrich(self, docs: Sequence[Document]) -> list[Outcome]: ...


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


def _init_worker(config: NlpConfig) -> None:
    global _worker_enricher
    _worker_enricher = load_enricher(config)


def _run_in_worker(docs: list[Document]) -> list[Outcome]:
    if _worker_enricher is None:
        raise RuntimeError("NLP worker was not initialised")
    return analyse(_worker_enricher, docs)


class ProcessPoolRunner:
    """Runs the enricher in `workers` processes; a batch is split across them."""

    def __init__(self, config: NlpConfig, workers: int) -> None:
        self._config = config
        self._workers = workers
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn, not fork: forking a process that runs an event loop and threads
            # (uvicorn, aiokafka, asyncpg) copies their locks in whatever state they are.
            self._executor = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self._config,),
            )
        return self._executor

    async def warm_up(self) -> None:
        # Workers spawn on demand and load the model in their initializer: one small
        # document per worker, submitted together, starts them all.
        doc = Document(key="warm-up", body="Warm-up text from Kyiv.")
        await self.enrich([doc] * self._workers)

    async def enrich(self, docs: Sequence[Document]) -> list[Outcome]:
        if not docs:
            return []
        loop = asyncio.get_running_loop()
        pool = self._pool()
        size = -(-len(docs) // self._workers)
        chunks = [list(docs[i : i + size]) for i in range(0, len(docs), size)]
        try:
            parts = await asyncio.gather(
                *(loop.run_in_executor(pool, _run_in_worker, chunk) for chunk in chunks)
            )
        except BrokenProcessPool as exc:
            self._discard(pool)
            raise NlpUnavailable(f"NLP worker pool died: {exc}") from exc
        return [outcome for part in parts for outcome in part]

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        if self._executor is pool:
            self._executor = None
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
