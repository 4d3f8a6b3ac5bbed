"""Liveness verdicts from lag, last fetch and the batch in hand."""

from __future__ import annotations

import time

import pytest

from newsflow_enrich.settings import Settings
from newsflow_enrich.stream.liveness import Liveness

pytestmark = pytest.mark.unit


def liveness(last_fetch: float, busy_since: float | None, lag: int | None) -> Liveness:
    settings = Settings(
        liveness_stall_s=10,
        max_poll_interval_ms=60_000,
        batch_max=8,
        batch_max_chars=100_000,
        nlp_budget_s=10,
    )
    watch = Liveness(
        settings, assigned=set, last_fetch=lambda: last_fetch, busy_since=lambda: busy_since
    )
    watch._lag = lag
    return watch


def test_lag_without_progress_is_a_stall() -> None:
    verdict = liveness(time.monotonic() - 30, None, lag=5).verdict()
    assert not verdict.alive
    assert "lag 5" in verdict.describe()


@pytest.mark.parametrize("lag", [0, None])
def test_no_lag_or_unknown_lag_is_alive(lag: int | None) -> None:
    assert liveness(time.monotonic() - 3600, None, lag=lag).verdict().alive


def test_recent_fetch_is_alive() -> None:
    assert liveness(time.monotonic() - 2, None, lag=100).verdict().alive


def test_a_long_batch_is_progress_until_the_poll_interval() -> None:
    now = time.monotonic()
    assert liveness(now - 50, busy_since=now - 50, lag=100).verdict().alive
    assert not liveness(now - 90, busy_since=now - 90, lag=100).verdict().alive
