"""Unit tests of the enrich HTTP app that need no database: problems, health, docs, metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from newsflow_enrich.app import build_app
from newsflow_enrich.settings import Settings
from tests.support.ports import free_port

pytestmark = pytest.mark.unit


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # Nothing listens on this port: any database access fails fast with "refused".
    settings = Settings(
        database_url=f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/none",
        consumer_enabled=False,
        relay_enabled=False,
    )
    app: FastAPI = build_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://enrich") as c:
            yield c


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert body["title"]
    return body


async def test_healthz_answers_without_dependencies(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_a_problem_when_the_database_is_down(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/readyz"), 503)
    checks = body["checks"]
    assert isinstance(checks, dict) and checks["database"].startswith("unavailable")


async def test_bad_article_id_is_a_422_problem_naming_the_parameter(
    client: httpx.AsyncClient,
) -> None:
    body = assert_problem(await client.get("/v1/articles/not-a-uuid"), 422)
    assert "article_id" in str(body["detail"])


async def test_bad_cursor_limit_and_naive_since_are_rejected(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/articles", params={"cursor": "garbage"}), 400)
    assert_problem(await client.get("/v1/articles", params={"limit": 0}), 422)
    body = assert_problem(
        await client.get("/v1/articles", params={"since": "2026-01-01T00:00:00"}), 422
    )
    assert "since" in str(body["detail"])


async def test_database_down_on_read_is_a_503_with_retry_after(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/entities", params={"q": "Kyiv"})
    assert_problem(response, 503)
    assert response.headers["retry-after"] == "5"


async def test_openapi_lists_the_read_api_and_metrics_are_exposed(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert {"/v1/articles/{article_id}", "/v1/articles", "/v1/entities"} <= set(spec["paths"])
    assert (await client.get("/docs")).status_code == 200
    metrics = (await client.get("/metrics")).text
    for name in (
        "enrich_consumer_lag_records",
        "enrich_batch_size_records",
        "enrich_nlp_seconds",
        "enrich_dlq_records_total",
        "enrich_outbox_backlog_rows",
    ):
        assert name in metrics
