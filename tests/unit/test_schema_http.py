"""The shared problem+json handlers: every error shape both services answer with."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Query

from newsflow_schema.http import (
    DatabaseUnavailable,
    KafkaUnavailable,
    ProblemError,
    install_problem_handlers,
)
from newsflow_schema.problems import PROBLEM_CONTENT_TYPE

pytestmark = pytest.mark.unit


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app, retry_after_s=7)

    @app.get("/teapot")
    async def teapot() -> None:
        raise ProblemError(418, "short and stout", slug="teapot", extra={"spout": 1})

    @app.get("/db")
    async def db() -> None:
        raise DatabaseUnavailable()

    @app.get("/kafka")
    async def kafka() -> None:
        raise KafkaUnavailable("Kafka is not reachable")

    @app.get("/int")
    async def integer(n: int = Query()) -> int:
        return n

    return app


async def _get(path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path)


async def test_problem_error_keeps_its_slug_and_extra_members() -> None:
    r = await _get("/teapot")
    assert r.status_code == 418
    assert r.headers["content-type"] == PROBLEM_CONTENT_TYPE
    body = r.json()
    assert body["type"].endswith("/teapot")
    assert body["spout"] == 1
    assert body["instance"] == "/teapot"


@pytest.mark.parametrize(
    ("path", "slug"), [("/db", "database-unavailable"), ("/kafka", "kafka-unavailable")]
)
async def test_an_outage_is_503_with_retry_after(path: str, slug: str) -> None:
    r = await _get(path)
    assert r.status_code == 503
    assert r.headers["retry-after"] == "7"
    assert r.json()["type"].endswith("/" + slug)


async def test_invalid_parameters_name_the_field() -> None:
    r = await _get("/int?n=x")
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "query.n"
    assert "query.n" in r.json()["detail"]


async def test_unknown_route_is_a_problem_too() -> None:
    r = await _get("/nope")
    assert r.status_code == 404
    assert r.headers["content-type"] == PROBLEM_CONTENT_TYPE
