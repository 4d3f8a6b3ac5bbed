"""The cluster scenarios' timeline: each refused request placed after the fault it followed."""

from __future__ import annotations

import pytest

from tests.cluster.cluster import Timeline
from tests.fault.harness import Outcome

pytestmark = pytest.mark.unit


def outcome(index: int, sent: float, done: float, detail: str | None = None) -> Outcome:
    return Outcome(index, f"id{index}", 503, sent, done, detail=detail, retry_after="5")


def test_a_request_is_placed_after_the_latest_event_before_it_was_sent() -> None:
    timeline = Timeline(origin=100.0)
    timeline.mark("node 1: SIGTERM", at=110.0)
    timeline.mark("node 1: back in the ISR", at=120.0)
    assert timeline.last_before(105.0) == "before any fault"
    assert timeline.last_before(110.0) == "node 1: SIGTERM (+10.0 s)"
    assert timeline.last_before(125.5) == "node 1: back in the ISR (+20.0 s)"


def test_explain_lists_refusals_in_send_order_then_the_timeline() -> None:
    timeline = Timeline(origin=0.0)
    timeline.mark("node 2: SIGTERM", at=30.0)
    late = outcome(7, 31.0, 46.0, "Kafka did not acknowledge in time")
    early = outcome(1, 1.0, 1.2, "Kafka is not reachable")
    assert timeline.explain([late, early]).splitlines() == [
        "+1.0 s -> +1.2 s: 503 'Kafka is not reachable', after before any fault",
        "+31.0 s -> +46.0 s: 503 'Kafka did not acknowledge in time', "
        "after node 2: SIGTERM (+30.0 s)",
        "timeline:",
        "  +30.0 s node 2: SIGTERM",
    ]
