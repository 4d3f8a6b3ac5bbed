"""Crash points for fault-injection tests: die with SIGKILL at a named step of the work."""

from __future__ import annotations

import logging
import os
import signal
from collections import Counter
from dataclasses import dataclass, field

from newsflow_enrich.nlp.workers import WorkerFaults

log = logging.getLogger(__name__)

# Where a crash tells something: between the steps whose order the guarantees rest on.
POINTS = frozenset({"before-db-commit", "after-db-commit", "after-relay-publish"})
# Not a crash: the consumer stops fetching for good, as a wedged client would.
STALLS = frozenset({"stall-fetch"})
# Obeyed by NLP workers on a document whose body contains the marker: `nlp-kill-on:<marker>`
# SIGKILLs the worker (an OOM kill), `nlp-slow-on:<marker>` stalls it past any budget.
MARKERS = frozenset({"nlp-kill-on", "nlp-slow-on"})


class CrashSpecError(ValueError):
    """ENRICH_CRASH_AT does not name a crash point."""


@dataclass
class CrashPoints:
    """`point:n` entries (comma-separated): SIGKILL this process the n-th time it passes there.

    Empty in production. Fault tests set ENRICH_CRASH_AT to kill enrich exactly between a
    database commit and its offset commit, or between a publish and its outbox mark —
    windows a random kill -9 almost never hits.
    """

    spec: str = ""
    _targets: dict[str, int] = field(default_factory=dict, init=False)
    _seen: Counter[str] = field(default_factory=Counter, init=False)
    _markers: dict[str, str] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for entry in filter(None, (e.strip() for e in self.spec.split(","))):
            point, _, arg = entry.partition(":")
            if point in MARKERS and arg:
                self._markers[point] = arg
                continue
            if point not in POINTS | STALLS or not (arg or "1").isdigit():
                raise CrashSpecError(
                    f"bad crash point {entry!r}: use <point>[:<n>] with point one of "
                    f"{', '.join(sorted(POINTS | STALLS))}, or <marker point>:<text> with "
                    f"one of {', '.join(sorted(MARKERS))}"
                )
            self._targets[point] = int(arg or "1")

    def worker_faults(self) -> WorkerFaults:
        """What the NLP workers must do on a marked document."""
        return WorkerFaults(
            kill_on=self._markers.get("nlp-kill-on", ""),
            slow_on=self._markers.get("nlp-slow-on", ""),
        )

    def reached(self, point: str) -> bool:
        """SIGKILL at a crash point; True at a stall point, where the caller must stop."""
        if point not in self._targets:
            return False
        self._seen[point] += 1
        if point in STALLS:
            stall = self._seen[point] >= self._targets[point]
            if stall and self._seen[point] == self._targets[point]:
                log.warning("stall point %s reached: no more progress from here", point)
            return stall
        if self._seen[point] == self._targets[point]:
            log.warning("crash point %s reached (pass %d): SIGKILL", point, self._seen[point])
            logging.shutdown()
            os.kill(os.getpid(), signal.SIGKILL)
        return False
