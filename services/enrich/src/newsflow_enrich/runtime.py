"""The composition root of enrich: what starts, in which order, and how it stops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from newsflow_enrich.db import engine as db_engine
from newsflow_enrich.errors import INFRASTRUCTURE
from newsflow_enrich.faults import CrashPoints
from newsflow_enrich.metrics import Metrics
from newsflow_enrich.nlp.workers import AnalysisRunner, ProcessPoolRunner
from newsflow_enrich.settings import Settings
from newsflow_enrich.stream.consumer import EnrichConsumer
from newsflow_enrich.stream.liveness import Liveness
from newsflow_enrich.stream.outbox import OutboxRelay

log = logging.getLogger(__name__)

# /readyz bounds its database check: a probe must answer before the orchestrator gives up.
PING_TIMEOUT_S = 2.0


def _log_exit(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("%s stopped by an unexpected error", task.get_name(), exc_info=exc)


class Runtime:
    """The engine, NLP runner, consumer, relay and liveness watch of one enrich process.

    `engine` and `nlp_factory` replace the real ones (tests); an engine passed in is the
    caller's to dispose of.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        engine: AsyncEngine | None = None,
        nlp_factory: Callable[[Settings], AnalysisRunner] | None = None,
    ) -> None:
        self.settings = settings
        self._own_engine = engine is None
        self.engine: AsyncEngine = engine if engine is not None else db_engine.make_engine(settings)
        self.metrics = Metrics()
        self.consumer: EnrichConsumer | None = None
        self.relay: OutboxRelay | None = None
        self.liveness: Liveness | None = None
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._nlp_factory = nlp_factory
        self._pool: ProcessPoolRunner | None = None

    def _nlp(self) -> AnalysisRunner:
        if self._nlp_factory is not None:
            return self._nlp_factory(self.settings)
        self._pool = ProcessPoolRunner(
            self.settings.nlp_config(),
            self.settings.workers,
            budget_s=self.settings.nlp_budget_s,
            faults=CrashPoints(self.settings.crash_at).worker_faults(),
        )
        return self._pool

    def _spawn(self, name: str, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(_log_exit)
        self.tasks[name] = task

    async def start(self) -> None:
        """Start the relay, then the NLP runner and consumer, then the liveness watch."""
        settings = self.settings
        if settings.relay_enabled:
            self.relay = OutboxRelay(settings, self.engine, self.metrics)
            self._spawn("relay", self.relay.run())
        if not settings.consumer_enabled:
            return
        relay = self.relay
        consumer = EnrichConsumer(
            settings,
            self.engine,
            self._nlp(),
            self.metrics,
            on_commit=relay.notify if relay else lambda: None,
        )
        self.consumer = consumer
        self._spawn("consumer", consumer.run())
        self.liveness = Liveness(
            settings,
            assigned=lambda: set(consumer.assigned),
            last_fetch=lambda: consumer.last_fetch,
            busy_since=lambda: consumer.busy_since,
        )
        self._spawn("liveness", self.liveness.run())

    async def stop(self) -> None:
        """Consumer first, then the relay's final flush, liveness, the pool, the engine.

        Order matters: the consumer stops first so the relay's final flush publishes the
        outbox rows of the consumer's last committed batch.
        """
        if self.consumer is not None:
            await self.consumer.stop(self.tasks["consumer"])
        if self.relay is not None:
            await self.relay.stop(self.tasks["relay"])
        if self.liveness is not None:
            self.liveness.stop()
            await self.tasks["liveness"]
        if self._pool is not None:
            await self._pool.close()
        if self._own_engine:
            await self.engine.dispose()

    def live(self) -> tuple[bool, str]:
        """What /healthz answers: False when the consumer has lag but makes no progress."""
        if self.liveness is None:
            return True, "ok"
        verdict = self.liveness.verdict()
        if verdict.alive:
            return True, "ok"
        return False, f"no progress: {verdict.describe()}"

    async def ready(self) -> dict[str, bool]:
        """What /readyz answers: each dependency and started task, True when usable."""
        checks: dict[str, bool] = {}
        try:
            await asyncio.wait_for(db_engine.ping(self.engine), PING_TIMEOUT_S)
            checks["database"] = True
        except INFRASTRUCTURE as exc:
            log.debug("readiness: database ping failed: %r", exc)
            checks["database"] = False
        if self.consumer is not None:
            checks["consumer"] = self.consumer.started
        if self.relay is not None:
            checks["relay"] = self.relay.kafka_ok
        for name, task in self.tasks.items():
            if task.done():
                checks[name] = False
        return checks
