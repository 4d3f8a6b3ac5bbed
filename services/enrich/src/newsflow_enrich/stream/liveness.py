"""Progress-based liveness: lag on our partitions but no records fetched for too long."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from newsflow_enrich.errors import INFRASTRUCTURE
from newsflow_enrich.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Verdict:
    alive: bool
    lag: int | None
    idle_s: float

    def describe(self) -> str:
        lag = "unknown" if self.lag is None else str(self.lag)
        return f"lag {lag}, no records fetched or processed for {self.idle_s:.0f} s"


class Liveness:
    """Watches the consumer from outside it.

    A consumer can stop fetching without an error (a known aiokafka failure after broker
    restarts). Its own client is then no witness, so the lag is measured with a separate
    client: end offsets of the partitions it owns minus the group's committed offsets.
    Lag with no fetch for `liveness_stall_s` makes /healthz fail, and an orchestrator
    restarts the process. A consumer retrying through a database outage keeps fetching
    (it re-reads its batch), so it stays alive; /readyz reports the outage instead.
    """

    def __init__(
        self,
        settings: Settings,
        assigned: Callable[[], set[TopicPartition]],
        last_fetch: Callable[[], float],
        busy_since: Callable[[], float | None],
    ) -> None:
        self._settings = settings
        self._assigned = assigned
        self._last_fetch = last_fetch
        self._busy_since = busy_since
        self._lag: int | None = None
        self._stopping = asyncio.Event()

    def verdict(self) -> Verdict:
        now = time.monotonic()
        busy = self._busy_since()
        if busy is not None:
            # A batch in hand is progress until the group itself would give up on us.
            stuck = now - busy > self._settings.max_poll_interval_ms / 1000
            return Verdict(alive=not stuck, lag=self._lag, idle_s=now - busy)
        idle = now - self._last_fetch()
        stalled = bool(self._lag) and idle > self._settings.liveness_stall_s
        return Verdict(alive=not stalled, lag=self._lag, idle_s=idle)

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._lag = await asyncio.wait_for(
                    self._measure(), timeout=self._settings.liveness_check_s
                )
            except INFRASTRUCTURE as exc:
                # The broker being away is not the consumer's fault: keep the last reading.
                log.debug("liveness: lag not measured: %r", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._settings.liveness_check_s)

    def stop(self) -> None:
        self._stopping.set()

    async def _measure(self) -> int:
        owned = self._assigned()
        if not owned:
            return 0
        s = self._settings
        admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap_servers)
        ends = AIOKafkaConsumer(bootstrap_servers=s.kafka_bootstrap_servers)
        await admin.start()
        try:
            await ends.start()
            try:
                committed = await admin.list_consumer_group_offsets(s.group_id)
                end = await ends.end_offsets(sorted(owned))
            finally:
                await ends.stop()
        finally:
            await admin.close()
        done = {tp: meta.offset for tp, meta in committed.items()}
        return sum(max(0, offset - max(done.get(tp, 0), 0)) for tp, offset in end.items())
