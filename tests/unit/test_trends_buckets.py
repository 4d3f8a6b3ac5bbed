"""The buckets a ranking walks: whole UTC hours or days starting inside the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from newsflow_enrich.trends.queries import buckets

pytestmark = pytest.mark.unit

DAY = datetime(2026, 3, 28, tzinfo=UTC)


def test_a_window_of_whole_days_has_one_bucket_per_day() -> None:
    assert buckets(DAY, DAY + timedelta(days=3), "day") == [
        DAY,
        DAY + timedelta(days=1),
        DAY + timedelta(days=2),
    ]


def test_a_bucket_counts_when_it_starts_inside_the_window() -> None:
    # The rollups hold a bucket at its start; the queries keep since <= bucket < until.
    since, until = DAY + timedelta(hours=5, minutes=30), DAY + timedelta(hours=8, minutes=1)
    assert buckets(since, until, "hour") == [DAY + timedelta(hours=h) for h in (6, 7, 8)]
    assert buckets(since, until, "day") == []
    assert buckets(DAY, DAY, "hour") == []


def test_buckets_are_utc_days_whatever_the_zone_of_the_window() -> None:
    # Berlin moves to summer time on 2026-03-29: its local days there are not 24 h long,
    # the rollups' UTC days are.
    berlin = ZoneInfo("Europe/Berlin")
    since = datetime(2026, 3, 28, 1, 0, tzinfo=berlin)  # 00:00 UTC
    until = datetime(2026, 3, 31, 1, 0, tzinfo=berlin)  # 23:00 UTC on the 30th
    got = buckets(since, until, "day")
    assert got == [DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)]
    assert all(b.utcoffset() == timedelta(0) for b in got)
    assert len(buckets(since, until, "hour")) == 3 * 24 - 1
