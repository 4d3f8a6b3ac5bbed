"""Ingest while the broker is stopped: 503 and never a 202, then recovery without a restart."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest

from newsflow_schema import ArticleRawEvent, decode
from tests.infra import Infra
from tests.integration.ingest_support import RawTopic, ingest_settings, running_ingest

pytestmark = [pytest.mark.integration, pytest.mark.fault]

READY_TIMEOUT_S = 1.0
PUBLISH_TIMEOUT_S = 2.0


def article() -> dict[str, Any]:
    token = uuid.uuid4().hex
    return {"text": f"Outage test {token}\n\nBody of article {token} while the broker restarts."}


async def post_until_accepted(
    client: httpx.AsyncClient, payload: dict[str, Any], deadline_s: float
) -> tuple[httpx.Response, list[int]]:
    """Re-post until a 202; return it and the status codes seen before it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    seen: list[int] = []
    while True:
        response = await client.post("/v1/articles", json=payload)
        if response.status_code == 202:
            return response, seen
        seen.append(response.status_code)
        if loop.time() > deadline:
            raise AssertionError(f"no 202 within {deadline_s}s; statuses {seen}")
        await asyncio.sleep(0.5)


async def timed(client: httpx.AsyncClient, method: str, path: str, **kw: Any) -> httpx.Response:
    started = time.monotonic()
    response = await client.request(method, path, **kw)
    elapsed = time.monotonic() - started
    # Nothing may hang: readiness is bounded by its timeout, a publish by its deadline.
    assert elapsed < PUBLISH_TIMEOUT_S + 3.0, f"{method} {path} took {elapsed:.1f}s"
    return response


async def test_broker_down_gives_503_then_recovers_without_restart(
    infra: Infra, kafka_bootstrap: str
) -> None:
    settings = ingest_settings(
        kafka_bootstrap, ready_timeout_s=READY_TIMEOUT_S, publish_timeout_s=PUBLISH_TIMEOUT_S
    )
    async with running_ingest(settings) as ingest:
        client = ingest.client
        before = await client.post("/v1/articles", json=article())
        assert before.status_code == 202, before.text

        await asyncio.to_thread(infra.stop_kafka)
        try:
            ready = await timed(client, "GET", "/readyz")
            assert ready.status_code == 503
            assert ready.headers["content-type"].startswith("application/problem+json")
            for _ in range(3):
                response = await timed(client, "POST", "/v1/articles", json=article())
                assert response.status_code == 503, response.text
                assert int(response.headers["retry-after"]) >= 1
                assert "location" not in response.headers
            batch = await timed(client, "POST", "/v1/articles:batch", json=[article()] * 2)
            assert batch.status_code == 503, batch.text
            assert (await client.get("/healthz")).status_code == 200
        finally:
            await asyncio.to_thread(infra.start_kafka)

        payload = article()
        accepted, seen = await post_until_accepted(client, payload, deadline_s=90.0)
        assert set(seen) <= {503}, seen
        assert (await client.get("/readyz")).status_code == 200

        async with RawTopic(kafka_bootstrap) as raw:
            await raw.mark()
            again = await client.post("/v1/articles", json=article())
            assert again.status_code == 202
            (record,) = await raw.read_new(1)
            assert record.key == again.json()["id"].encode()
            assert decode(ArticleRawEvent, record.value).article_id == uuid.UUID(again.json()["id"])
        assert accepted.json()["id"]


async def test_app_starts_while_broker_is_down_and_connects_later(
    infra: Infra, kafka_bootstrap: str
) -> None:
    settings = ingest_settings(
        kafka_bootstrap, ready_timeout_s=READY_TIMEOUT_S, publish_timeout_s=PUBLISH_TIMEOUT_S
    )
    await asyncio.to_thread(infra.stop_kafka)
    broker_up = False
    try:
        async with running_ingest(settings, wait_ready=False) as ingest:
            client = ingest.client
            assert (await client.get("/healthz")).status_code == 200
            assert (await timed(client, "GET", "/readyz")).status_code == 503
            response = await timed(client, "POST", "/v1/articles", json=article())
            assert response.status_code == 503
            assert "retry-after" in response.headers

            await asyncio.to_thread(infra.start_kafka)
            broker_up = True
            accepted, seen = await post_until_accepted(client, article(), deadline_s=90.0)
            assert set(seen) <= {503}, seen
            assert accepted.status_code == 202
    finally:
        # Leave the broker running for the tests after this one, whatever happened.
        if not broker_up:
            await asyncio.to_thread(infra.start_kafka)
