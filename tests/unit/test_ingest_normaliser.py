"""Normalisation in worker processes: off the server process, split across them for batches,
answered 503 (never 500) when a worker dies, with a fresh pool for the next request."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import example, given
from hypothesis import strategies as st

from newsflow_ingest.app import build_app
from newsflow_ingest.normaliser import Normaliser, NormaliserUnavailableError
from newsflow_ingest.routes.batch import CHUNK_ITEMS, chunks
from newsflow_ingest.routes.deps import IngestContext
from newsflow_schema.procs import alive, stat_fields
from tests.support import workers
from tests.support.fuzz import fuzz
from tests.unit.test_ingest_api import ARTICLE, FakePublisher, assert_problem, make_settings

pytestmark = pytest.mark.unit

JSON = {"content-type": "application/json"}
REPO = Path(__file__).resolve().parents[2]
LONG = "A powerful storm battered the northern coast on Tuesday, officials said. " * 3


@asynccontextmanager
async def serving(
    processes: int = 2, **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, FakePublisher, IngestContext]]:
    fake = FakePublisher()
    app = build_app(make_settings(normalise_processes=processes, **overrides), publisher=fake)
    context = app.state.ingest
    assert isinstance(context, IngestContext)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
            yield client, fake, context


async def until(what: str, condition: Callable[[], bool], within: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, f"{what}: not within {within} s"
        await asyncio.sleep(0.02)


async def test_workers_run_outside_the_server_and_stop_with_it() -> None:
    normaliser = Normaliser(2)
    await normaliser.start()
    pids = normaliser.worker_pids()
    ran_in = set(await asyncio.gather(*(normaliser.run(workers.pid) for _ in range(8))))
    await normaliser.stop()

    assert len(pids) == 2 and os.getpid() not in pids
    assert ran_in <= set(pids)
    await until("workers exited", lambda: not any(alive(pid) for pid in pids))
    with pytest.raises(NormaliserUnavailableError):
        await normaliser.run(workers.pid)


def test_workers_exit_by_themselves_when_the_server_is_killed() -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.support.workers", "2"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=REPO,
    )
    try:
        assert server.stdout is not None
        pids = [int(pid) for pid in server.stdout.readline().split()]
        assert len(pids) == 2 and all(alive(pid) for pid in pids)
        server.kill()
        # Not reaped yet: a zombie, as under an init that never reaps; the workers go anyway.
        deadline = time.monotonic() + 30
        while any(alive(pid) for pid in pids):
            assert time.monotonic() < deadline, "the workers outlived their server"
            time.sleep(0.05)
    finally:
        server.kill()
        server.wait()


def _group(pgid: int) -> list[int]:
    """The processes in process group `pgid` (from /proc)."""
    pids = (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())
    # pgrp: proc(5) field 5.
    return [pid for pid in pids if (fields := stat_fields(pid)) and int(fields[2]) == pgid]


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc)."""
    pids = (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())
    # ppid: proc(5) field 4.
    return [child for child in pids if (fields := stat_fields(child)) and int(fields[1]) == pid]


def test_a_sigterm_to_the_process_group_leaves_the_workers_serving_the_drain() -> None:
    # A stop signals the server's process group. The server drains its requests after
    # SIGTERM; the pool must still be whole, so neither the fork server nor a worker may be
    # in that group (they keep SIGTERM's default, which a broken pool relies on).
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.support.workers", "2", "drain"],
        stdout=subprocess.PIPE,
        cwd=REPO,
        start_new_session=True,
    )
    try:
        assert server.stdout is not None
        pids = {int(pid) for pid in server.stdout.readline().split()}
        assert server.stdout.readline().strip() == b"ready"
        fork_servers = {pid for pid in _children(server.pid) if pids & set(_children(pid))}
        assert len(fork_servers) == 1, (fork_servers, pids)
        assert not (pids | fork_servers) & set(_group(server.pid)), _group(server.pid)
        os.killpg(server.pid, signal.SIGTERM)
        served = {int(pid) for pid in server.stdout.readline().split()}
        assert server.wait(timeout=30) == 0
        assert served and served <= pids, (served, pids)
    finally:
        server.kill()
        server.wait()


def test_a_pool_broken_by_one_death_ends_its_other_workers_and_the_server_can_exit(
    tmp_path: Path,
) -> None:
    # Of two workers one holds a request and the other is killed: the pool breaks,
    # terminates the busy worker and joins it. A worker that outlived that (one ignoring
    # SIGTERM) would block the server's exit, which waits for the broken pool.
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.support.workers", "2", f"break:{tmp_path}"],
        stdout=subprocess.PIPE,
        cwd=REPO,
    )
    try:
        assert server.stdout is not None
        first = [int(pid) for pid in server.stdout.readline().split()]
        assert len(first) == 2
        refused, busy = server.stdout.readline().split()
        assert refused == b"refused" and int(busy) in first
        deadline = time.monotonic() + 30
        while alive(int(busy)):
            assert time.monotonic() < deadline, "the broken pool's busy worker lived on"
            time.sleep(0.05)
        assert int(server.stdout.readline()) not in first
        assert server.wait(timeout=30) == 0
    finally:
        server.kill()
        server.wait()


async def test_threads_mode_runs_in_the_server_process() -> None:
    normaliser = Normaliser(0)
    await normaliser.start()
    try:
        assert await normaliser.run(workers.pid) == os.getpid()
        assert normaliser.worker_pids() == []
    finally:
        await normaliser.stop()


async def test_a_dead_worker_costs_a_503_and_a_fresh_pool_takes_the_next_request() -> None:
    async with serving() as (client, fake, context):
        assert (await client.post("/v1/articles", json=ARTICLE)).status_code == 202
        first = context.normaliser.worker_pids()
        for pid in first:
            os.kill(pid, signal.SIGKILL)

        refused = await client.post("/v1/articles", json={**ARTICLE, "tags": ["a"]})
        body = assert_problem(refused, 503)
        assert body["type"].endswith("/normaliser-unavailable")
        assert refused.headers["retry-after"] == "5"
        assert len(fake.records) == 1

        again = await client.post("/v1/articles", json={**ARTICLE, "tags": ["a"]})
        assert again.status_code == 202, again.text
        second = context.normaliser.worker_pids()
        assert second and not set(second) & set(first)

        for pid in second:
            os.kill(pid, signal.SIGKILL)
        batch = [{**ARTICLE, "tags": ["a"]}, {"text": "Other story\n\nThe harbour reopened."}]
        assert_problem(await client.post("/v1/articles:batch", json=batch), 503)
        batched = await client.post("/v1/articles:batch", json=batch)
        assert batched.status_code == 202, batched.text
        assert len(fake.records) == 3  # the first item was published already: unchanged

        metrics = (await client.get("/metrics")).text
        assert "ingest_normaliser_restarts_total 2.0" in metrics
        assert 'ingest_articles_rejected_total{reason="unavailable"} 3.0' in metrics


async def test_healthz_answers_while_every_worker_is_busy(tmp_path: Path) -> None:
    started, release = tmp_path / "started", tmp_path / "release"
    started.mkdir()
    async with serving() as (client, _, context):
        holds = [
            asyncio.create_task(
                context.normaliser.run(workers.hold, str(started), str(release), 30)
            )
            for _ in range(2)
        ]
        await until("both workers held", lambda: len(list(started.iterdir())) == 2)
        posted = asyncio.create_task(client.post("/v1/articles", json=ARTICLE))

        health = await asyncio.wait_for(client.get("/healthz"), 10)
        assert health.status_code == 200
        assert not posted.done()
        release.touch()
        assert (await posted).status_code == 202
        assert len(set(await asyncio.gather(*holds))) == 2


async def test_a_batch_is_split_across_the_workers_and_answered_in_order() -> None:
    count = 2 * CHUNK_ITEMS + 5
    items = [
        {"text": ""} if i % 5 == 3 else {"text": f"Story {i}\n\n{LONG}", "tags": [str(i)]}
        for i in range(count)
    ]
    settings = {"max_batch_items": 100, "max_batch_body_bytes": 400_000}
    answers = []
    for processes in (2, 0):
        async with serving(processes, **settings) as (client, fake, _):
            response = await client.post("/v1/articles:batch", json=items)
            assert response.status_code == 207, response.text
            answers.append((response.json(), [record.key for record in fake.records]))

    (pooled, pooled_keys), (threaded, threaded_keys) = answers
    assert [r["index"] for r in pooled["results"]] == list(range(count))
    assert [r["status"] for r in pooled["results"]] == [
        422 if i % 5 == 3 else 202 for i in range(count)
    ]
    # Event ids are new per event; everything else is what the threads answer.
    for result in (*pooled["results"], *threaded["results"]):
        result.pop("event_id")
    assert pooled == threaded
    assert pooled_keys == threaded_keys and len(pooled_keys) == pooled["accepted"]


async def test_items_nested_too_deeply_to_pickle_are_refused_like_any_invalid_item() -> None:
    deep = "[" * 900 + "]" * 900  # json.loads takes it; pickle gives up at a few hundred levels
    items = [
        json.dumps(ARTICLE),
        f'{{"text": "Storm", "tags": {deep}}}',
        f'{{"text": "Storm", "extra": {{"a": {deep}}}}}',
        "7",
    ]
    async with serving(max_batch_body_bytes=400_000) as (client, _, _):
        response = await client.post(
            "/v1/articles:batch", content="[" + ",".join(items) + "]", headers=JSON
        )
        ndjson = await client.post(
            "/v1/articles:batch",
            content="\n".join(items),
            headers={"content-type": "application/x-ndjson"},
        )
    for answer in (response, ndjson):
        assert answer.status_code == 207, answer.text
        results = answer.json()["results"]
        assert [r["index"] for r in results] == [0, 1, 2, 3]
        assert [r["status"] for r in results] == [202, 422, 422, 422]
    assert [e["field"] for e in response.json()["results"][1]["errors"]][:1] == ["tags.0"]


@given(st.integers(1, 3000), st.integers(1, 8))
@example(4, 3)
@example(17, 2)
def test_chunks_cover_every_item_once_in_order(count: int, processes: int) -> None:
    parts = chunks(count, processes)
    assert [i for part in parts for i in part] == list(range(count))
    assert all(0 < len(part) <= CHUNK_ITEMS for part in parts)
    assert len(parts) >= min(count, processes)


@pytest.mark.parametrize(
    ("raw", "status", "fragment"),
    [
        (b"[" * 50_000 + b"]" * 50_000, 400, "nested too deeply"),
        (b'{"text": ' + b"9" * 5000 + b"}", 400, "digits"),
        (b'{"text": "caf\xe9"}', 400, "UTF-8"),
        (json.dumps({"text": "a\u0000b"}).encode(), 422, "NUL"),
        (json.dumps({"html": "no markup here"}).encode(), 422, "markup"),
    ],
)
async def test_bad_bodies_are_the_same_problems_through_the_workers(
    raw: bytes, status: int, fragment: str
) -> None:
    async with serving(max_body_bytes=200_000) as (client, fake, _):
        response = await client.post("/v1/articles", content=raw, headers=JSON)
        body = assert_problem(response, status)
        assert fragment in json.dumps(body)
        assert not fake.records


def test_every_operation_conforms_and_never_answers_5xx_with_workers() -> None:
    app = build_app(make_settings(normalise_processes=2), publisher=FakePublisher())
    # The client's context runs the lifespan, which starts the workers the fuzzing uses.
    with TestClient(app):
        ran = fuzz(schemathesis.openapi.from_asgi("/openapi.json", app), max_examples=30)
    assert "POST /v1/articles" in ran and "POST /v1/articles:batch" in ran
