"""Services killed, bounced and scaled under load; poison in the raw topic."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from newsflow_local.procs import running
from newsflow_schema import DeadLetterEvent, decode, header_map, topics
from tests.fault.harness import Load, Scenario, dsn, group_lag, logs, scenario, wait_for
from tests.infra import Infra
from tests.support.ports import free_port

# The scenarios fail through their own deadlines (drain, lag, recovery), which add up to
# more than the default per-test timeout.
pytestmark = [pytest.mark.fault, pytest.mark.timeout(900)]


async def rows(scn: Scenario) -> int:
    return int(await scn.scalar("SELECT count(*) FROM articles"))


async def assert_no_duplicate_rows(scn: Scenario) -> None:
    # Redelivery after a crash re-runs the same article: it must change nothing.
    per_article = await scn.scalar(
        "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM outbox GROUP BY article_id) t"
    )
    assert per_article == 1, "an article got more than one outbox event"
    assert await scn.scalar("SELECT count(*) FROM outbox") == await rows(scn)


async def test_enrich_killed_with_sigkill_mid_batch(infra: Infra) -> None:
    async with scenario(infra, "enrich SIGKILL") as scn:
        load = scn.load(count=150, rate=15)
        posting = load.start()
        for threshold in (10, 60):
            await wait_for(f"{threshold} rows", lambda t=threshold: _rows(scn, t), within=180)
            await asyncio.to_thread(scn.services.stop, "enrich", hard=True)
            back = time.monotonic()
            await asyncio.to_thread(scn.start_enrich)
        await posting
        await scn.drained(load, within=300)
        await scn.lag_zero()
        report = await scn.report(load, recovery_s=time.monotonic() - back)
        assert report.accepted == report.in_db == 150, logs(scn)
        assert report.on_topic == 150
        await assert_no_duplicate_rows(scn)


async def test_poison_records_go_to_the_dlq_and_the_rest_is_processed(infra: Infra) -> None:
    async with scenario(infra, "poison records") as scn:
        load = scn.load(count=60, rate=20)
        posting = load.start()
        await wait_for("load under way", lambda: _progress(load, 20), within=60)
        poison = {
            b"p-not-json": b"\x00\xffthis is not JSON",
            b"p-wrong-schema": json.dumps({"schema_version": 1, "article_id": "nope"}).encode(),
            b"p-oversized": b'{"body": "' + b"x" * (5 * 1024 * 1024) + b'"}',
        }
        producer = AIOKafkaProducer(
            bootstrap_servers=infra.kafka_bootstrap,
            acks="all",
            enable_idempotence=True,
            max_request_size=8 * 1024 * 1024,
        )
        await producer.start()
        try:
            where = {}
            for key, value in poison.items():
                meta = await producer.send_and_wait(topics.RAW, value, key=key)
                where[key] = (meta.partition, meta.offset)
        finally:
            await producer.stop()
        await posting

        await scn.drained(load)
        await scn.lag_zero()
        await wait_for("three DLQ records", lambda: _count(scn.dlq.records, 3), within=60)
        report = await scn.report(load)
        assert report.accepted == report.in_db == report.on_topic == 60
        dlq = [r for r in scn.dlq.records if r.key in poison]
        assert sorted(r.key for r in dlq) == sorted(poison), "not exactly one DLQ record each"
        classes = {}
        for record in dlq:
            headers = header_map(record.headers)
            partition, offset = where[record.key]
            assert headers["dlq_original_topic"] == topics.RAW
            assert headers["dlq_original_partition"] == str(partition)
            assert headers["dlq_original_offset"] == str(offset)
            assert headers["dlq_error_class"] and headers["dlq_error_message"]
            event = decode(DeadLetterEvent, record.value)
            assert (event.original_partition, event.original_offset) == (partition, offset)
            assert event.original_value_size == len(poison[record.key])
            prefix = base64.b64decode(event.original_value_b64)
            assert poison[record.key].startswith(prefix)
            classes[record.key] = headers["dlq_error_class"]
        assert len(set(classes.values())) >= 2, f"error classes not told apart: {classes}"


async def test_second_replica_joins_then_leaves_under_load(infra: Infra) -> None:
    async with scenario(infra, "second replica joins/leaves") as scn:
        load = scn.load(count=200, rate=12)
        posting = load.start()
        await wait_for("first rows", lambda: _rows(scn, 10), within=120)
        port = free_port()
        await asyncio.to_thread(scn.start_enrich, instance="enrich-2", port=port)
        await wait_for("load half done", lambda: _progress(load, 120), within=120)
        await asyncio.to_thread(scn.services.stop, "enrich-2")
        left = time.monotonic()
        await posting
        await scn.drained(load, within=300)
        await scn.lag_zero()
        report = await scn.report(load, recovery_s=time.monotonic() - left)
        assert report.accepted == report.in_db == report.on_topic == 200, logs(scn)
        await assert_no_duplicate_rows(scn)
        # The first replica lived through both rebalances, without restarts.
        async with httpx.AsyncClient(base_url=scn.services.url("enrich")) as client:
            assert (await client.get("/healthz")).status_code == 200
        log = (scn.services.state / "logs" / "enrich.log").read_text()
        assert "Traceback" not in log, log[-4000:]


# In threads, and in worker processes (the fork server and the workers share the server's
# process group, so the stop's SIGTERM reaches them too).
@pytest.mark.parametrize(
    ("processes", "name"),
    [("0", "SIGTERM ingest"), ("2", "SIGTERM ingest (2 normalisation workers)")],
    ids=["threads", "workers"],
)
async def test_sigterm_to_ingest_answers_or_refuses_every_request(
    infra: Infra, processes: str, name: str
) -> None:
    env = {"INGEST_NORMALISE_PROCESSES": processes}
    async with scenario(infra, name, ingest_env=env) as scn:
        load = scn.load(count=200, rate=40)
        posting = load.start()
        await wait_for("load under way", lambda: _progress(load, 60), within=60)
        await asyncio.to_thread(scn.services.stop, "ingest")
        stopped = time.monotonic()
        await wait_for("more attempts", lambda: _progress(load, 120), within=60)
        restarting = time.monotonic()
        await asyncio.to_thread(scn.start_ingest)
        back = time.monotonic()
        await posting

        # A request that reached the server was answered (202 or 503), never cut off midway;
        # the others found no listening socket (connection refused).
        cut = [o for o in load.outcomes if o.status not in (202, 503) and o.error != "ConnectError"]
        assert not cut, (cut[:3], logs(scn))
        # While it was down nothing listened. The new server listens before it is ready
        # (503 until its producer connects), so only requests done before its start count.
        down = [o for o in load.outcomes if stopped < o.sent and o.done < restarting]
        answered = [o for o in down if o.error != "ConnectError"]
        assert down and not answered, answered[:3]
        # Once ready, it accepts again.
        assert all(o.status == 202 for o in load.outcomes if o.sent > back)
        await scn.drained(load)
        report = await scn.report(load, recovery_s=back - stopped)
        assert report.accepted == report.in_db == report.on_topic
        assert report.accepted == sum(1 for o in load.outcomes if o.status == 202)


async def test_sigterm_to_enrich_is_graceful(infra: Infra) -> None:
    async with scenario(infra, "SIGTERM enrich") as scn:
        load = scn.load(count=120, rate=15)
        posting = load.start()
        await wait_for("first rows", lambda: _rows(scn, 15), within=120)
        await asyncio.to_thread(scn.services.stop, "enrich")
        stopped = time.monotonic()
        log = (scn.services.state / "logs" / "enrich.log").read_text()
        assert "Traceback" not in log, log[-4000:]
        # No partial writes: every stored article has its outbox row, and all were published.
        assert await scn.scalar("SELECT count(*) FROM outbox") == await rows(scn)
        assert await scn.scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
        await asyncio.to_thread(scn.start_enrich)
        await posting
        await scn.drained(load)
        await scn.lag_zero()
        report = await scn.report(load, recovery_s=time.monotonic() - stopped)
        assert report.accepted == report.in_db == report.on_topic == 120
        await assert_no_duplicate_rows(scn)


async def _rows(scn: Scenario, count: int) -> bool:
    return await rows(scn) >= count


async def _progress(load: Load, count: int) -> bool:
    return load.progress >= count


async def _count(records: list[object], count: int) -> bool:
    return len(records) >= count


@pytest.mark.parametrize("point", ["before-db-commit:3", "after-db-commit:3"])
async def test_enrich_killed_at_a_commit_boundary(infra: Infra, point: str) -> None:
    env = {"ENRICH_CRASH_AT": point}
    async with scenario(infra, f"enrich SIGKILL at {point}", enrich_env=env) as scn:
        load = scn.load(count=100, rate=15)
        posting = load.start()
        await wait_for("the crash point", lambda: _dead(scn, "enrich"), within=180)
        crashed = time.monotonic()
        lag_at_crash = await group_lag(infra.kafka_bootstrap, scn.group)
        rows_at_crash = await rows(scn)
        if point.startswith("after"):
            # Its rows are committed, its offsets are not: the window this test is about.
            assert rows_at_crash > 0 and lag_at_crash > 0
        del scn.enrich_env["ENRICH_CRASH_AT"]
        await asyncio.to_thread(scn.start_enrich)
        await posting
        await scn.drained(load, within=300)
        await scn.lag_zero()
        report = await scn.report(load, recovery_s=time.monotonic() - crashed)
        assert report.accepted == report.in_db == report.on_topic == 100, logs(scn)
        await assert_no_duplicate_rows(scn)


async def test_relay_killed_after_publish_before_marking(infra: Infra) -> None:
    env = {"ENRICH_CRASH_AT": "after-relay-publish:2"}
    async with scenario(infra, "relay SIGKILL after publish", enrich_env=env) as scn:
        load = scn.load(count=80, rate=15)
        posting = load.start()
        await wait_for("the crash point", lambda: _dead(scn, "enrich"), within=180)
        crashed = time.monotonic()
        unmarked = await scn.scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        assert unmarked > 0
        del scn.enrich_env["ENRICH_CRASH_AT"]
        await asyncio.to_thread(scn.start_enrich)
        await posting
        await scn.drained(load)
        await scn.lag_zero()
        await wait_for(
            "outbox drained",
            lambda: _scalar_is(scn, "SELECT count(*) FROM outbox WHERE published_at IS NULL", 0),
            within=60,
        )
        report = await scn.report(load, recovery_s=time.monotonic() - crashed)
        # No gap; the rows published but not marked went out again, with the same event_id.
        assert report.accepted == report.in_db == report.on_topic == 80
        assert report.duplicates_on_topic >= 1
        outbox_ids = {str(r["event_id"]) for r in await _fetch(scn, "SELECT event_id FROM outbox")}
        assert set(scn.enriched.event_ids()) >= outbox_ids


async def _dead(scn: Scenario, name: str) -> bool:
    return not running(scn.services.state, name)


async def _scalar_is(scn: Scenario, sql: str, value: int) -> bool:
    return bool(await scn.scalar(sql) == value)


async def _fetch(scn: Scenario, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn(scn.database_url))
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()
