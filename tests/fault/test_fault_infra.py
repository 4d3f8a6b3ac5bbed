"""Kafka and PostgreSQL go away under load and come back: nothing accepted is lost."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.fault.harness import committed_offsets, logs, scenario, wait_for
from tests.infra import Infra

# The scenarios fail through their own deadlines (drain, lag, recovery), which add up to
# more than the default per-test timeout.
pytestmark = [pytest.mark.fault, pytest.mark.timeout(900)]


@pytest.mark.parametrize("hard", [True, False], ids=["kill -9", "clean stop"])
async def test_kafka_restart_under_load(owned_infra: Infra, hard: bool) -> None:
    async with scenario(owned_infra, f"kafka restarted ({'kill -9' if hard else 'clean'})") as scn:
        load = scn.load(count=240, rate=20)
        posting = load.start()
        await wait_for("load under way", lambda: _at_least(load, 60), within=60)

        await asyncio.to_thread(owned_infra.stop_kafka, hard=hard)
        down_from = time.monotonic()
        reached = load.progress + 40
        await wait_for("posts while kafka is down", lambda: _at_least(load, reached), within=90)
        down_until = time.monotonic()
        await asyncio.to_thread(owned_infra.start_kafka)
        back = time.monotonic()
        await posting

        during = [o for o in load.outcomes if o.sent >= down_from and o.done <= down_until]
        assert during, "no request was made while the broker was down"
        answers = {o.status for o in during}
        assert answers == {503}, f"while Kafka was down ingest answered {answers}\n{logs(scn)}"
        assert all(o.retry_after for o in during), "a 503 without Retry-After"
        after = [o for o in load.outcomes if o.sent > back + 30]
        assert all(o.status == 202 for o in after), "ingest did not recover by itself"

        recovery = await scn.drained(load, within=300)
        report = await scn.report(load, recovery_s=time.monotonic() - back)
        accepted = load.accepted()
        in_db = set(await scn.db_ids(sorted(accepted)))
        assert accepted <= in_db, f"lost {len(accepted - in_db)} accepted articles\n{logs(scn)}"
        assert accepted <= scn.enriched.keys()
        assert report.accepted > 0 and recovery >= 0


async def test_postgres_stopped_then_started(owned_infra: Infra) -> None:
    async with scenario(owned_infra, "postgres stopped") as scn:
        load = scn.load(count=150, rate=6)
        posting = load.start()
        await wait_for("first rows", lambda: _rows_at_least(scn, 5), within=120)

        await asyncio.to_thread(owned_infra.stop_postgres)
        committed_at_stop = await committed_offsets(owned_infra.kafka_bootstrap, scn.group)
        reached = load.progress + 30
        await wait_for("posts while postgres is down", lambda: _at_least(load, reached), within=60)
        committed_while_down = await committed_offsets(owned_infra.kafka_bootstrap, scn.group)
        # Nothing can be written, so no offset may move past what was written before.
        assert committed_while_down == committed_at_stop
        await asyncio.to_thread(owned_infra.start_postgres)
        back = time.monotonic()
        await posting

        assert {o.status for o in load.outcomes} == {202}
        await scn.drained(load, within=300)
        await scn.lag_zero()
        report = await scn.report(load, recovery_s=time.monotonic() - back)
        assert report.in_db == report.accepted == 150
        assert report.on_topic == 150
        assert not scn.dlq.records, "a transient database failure was dead-lettered"


async def _at_least(load: object, count: int) -> bool:
    return getattr(load, "progress", 0) >= count


async def _rows_at_least(scn: object, count: int) -> bool:
    from tests.fault.harness import Scenario

    assert isinstance(scn, Scenario)
    return int(await scn.scalar("SELECT count(*) FROM articles")) >= count
