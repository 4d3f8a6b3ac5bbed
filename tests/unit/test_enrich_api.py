"""Unit tests of the enrich HTTP app without a database: read API, problems, probes, keys."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from newsflow_enrich.app import build_app
from newsflow_enrich.db.read import StoredArticle, encode_cursor
from newsflow_enrich.settings import Settings
from tests.support.ports import free_port
from tests.support.read_store import NOW, FakeReadStore, article_row, failure_row, summary_row

pytestmark = pytest.mark.unit


def settings(**overrides: Any) -> Settings:
    # Nothing listens on this port: any real database access fails fast with "refused".
    return Settings(
        database_url=f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/none",
        consumer_enabled=False,
        relay_enabled=False,
        **overrides,
    )


async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://enrich") as c:
            yield c


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The app over the real PostgreSQL read store, whose database is down."""
    async for c in serve(build_app(settings(retry_after_s=9))):
        yield c


@pytest.fixture
def store() -> FakeReadStore:
    return FakeReadStore()


@pytest.fixture
async def faked(store: FakeReadStore) -> AsyncIterator[httpx.AsyncClient]:
    async for c in serve(build_app(settings(), store=store)):
        yield c


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


async def test_healthz_answers_without_dependencies(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_and_the_api_agree_when_the_database_is_down(
    client: httpx.AsyncClient,
) -> None:
    body = assert_problem(await client.get("/readyz"), 503)
    assert body["checks"]["database"] == "unavailable"
    for path in ("/v1/entities", "/v1/articles", f"/v1/articles/{uuid.uuid4()}"):
        response = await client.get(path)
        assert_problem(response, 503)
        # From the setting, not a literal.
        assert response.headers["retry-after"] == "9"


async def test_an_enriched_article(faked: httpx.AsyncClient, store: FakeReadStore) -> None:
    article_id = uuid.uuid4()
    store.stored[article_id] = StoredArticle(article_row(article_id), None)
    body = (await faked.get(f"/v1/articles/{article_id}")).json()
    assert body["status"] == "enriched" and body["failure"] is None
    assert [e["name"] for e in body["entities"]] == ["Andrey Yusov", "Kherson"]
    assert body["quotes"][0]["speaker_span"] == {"start": 0, "end": 12}
    assert body["tone"]["tone"] == 0.5 and body["authors"] == []


async def test_a_failed_article_says_why_and_keeps_an_older_version(
    faked: httpx.AsyncClient, store: FakeReadStore
) -> None:
    never, older = uuid.uuid4(), uuid.uuid4()
    store.stored[never] = StoredArticle(None, failure_row(never, reason="db-rejected"))
    store.stored[older] = StoredArticle(article_row(older), failure_row(older))

    body = (await faked.get(f"/v1/articles/{never}")).json()
    assert body["status"] == "failed"
    assert body["failure"] == {
        "reason": "db-rejected",
        "stage": "nlp",
        "detail": "NLP took over the per-record budget <twice>",
        "attempts": 3,
        "failed_at": NOW.isoformat().replace("+00:00", "Z"),
    }
    assert body["body"] is None and body["version"] is None and body["entities"] == []
    assert body["title"] == "A <i>failed</i> one"

    kept = (await faked.get(f"/v1/articles/{older}")).json()
    assert kept["status"] == "failed" and kept["failure"]["reason"] == "nlp-budget"
    assert kept["version"] == 1 and len(kept["entities"]) == 2


async def test_unknown_or_queued_is_a_404_problem(
    faked: httpx.AsyncClient, store: FakeReadStore
) -> None:
    queued = uuid.uuid4()
    store.stored[queued] = StoredArticle(article_row(queued, status="queued"), None)
    for key in (queued, uuid.uuid4()):
        body = assert_problem(await faked.get(f"/v1/articles/{key}"), 404)
        assert "not enriched yet, or unknown" in body["detail"]


async def test_list_filters_by_status_and_shows_failures(
    faked: httpx.AsyncClient, store: FakeReadStore
) -> None:
    ok, bad = uuid.uuid4(), uuid.uuid4()
    store.page = [summary_row(ok), summary_row(bad, status="failed")]
    store.next_cursor = encode_cursor(NOW, bad)
    page = (await faked.get("/v1/articles", params={"status": "failed", "limit": 2})).json()
    assert [i["status"] for i in page["items"]] == ["enriched", "failed"]
    assert page["items"][0]["failure"] is None
    assert page["items"][1]["failure"]["reason"] == "db-rejected"
    assert page["next_cursor"] == store.next_cursor
    assert store.queries[0].status == "failed" and store.queries[0].limit == 2

    await faked.get("/v1/articles", params={"cursor": page["next_cursor"]})
    assert store.queries[1].cursor == (NOW, bad) and store.queries[1].status is None
    assert_problem(await faked.get("/v1/articles", params={"status": "queued"}), 422)


def b64(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "",
        "%%%",
        b64([["2026-01-01T00:00:00+00:00"], [str(uuid.uuid4())]]),
        b64({"a": [1, {"b": 2}]}),
        b64(["2026-01-01T00:00:00", str(uuid.uuid4())]),
        b64(["0001-01-01T00:00:00+14:00", str(uuid.uuid4())]),
        b64(["2026-01-01T00:00:00+00:00", str(uuid.uuid4()), 3]),
        b64([1, 2]),
        b64("x"),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        "[" * 5000,
    ],
)
async def test_a_cursor_not_ours_is_a_400_problem(faked: httpx.AsyncClient, cursor: str) -> None:
    response = await faked.get("/v1/articles", params={"cursor": cursor})
    if cursor == "":
        assert response.status_code == 200
        return
    body = assert_problem(response, 400)
    assert "cursor" in body["detail"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"entity": "\x00"}, "entity"),
        ({"label": "a\x00b"}, "label"),
        ({"cursor": "\x00"}, "cursor"),
        ({"since": "0001-01-01T00:00:00+14:00"}, "since"),
        ({"since": "9999-12-31T23:59:59-14:00"}, "since"),
        ({"since": "2026-01-01T00:00:00"}, "since"),
        ({"since": "10000-01-01T00:00:00Z"}, "since"),
        ({"limit": 0}, "limit"),
    ],
)
async def test_bad_query_parameters_are_422_problems_naming_them(
    faked: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    body = assert_problem(await faked.get("/v1/articles", params=params), 422)
    assert field in body["detail"]
    assert any(field in e["field"] for e in body["errors"])


async def test_bad_article_id_is_a_422_problem_naming_the_parameter(
    faked: httpx.AsyncClient,
) -> None:
    body = assert_problem(await faked.get("/v1/articles/not-a-uuid"), 422)
    assert "article_id" in str(body["detail"])


async def test_openapi_documents_the_read_api_and_its_end_states(
    faked: httpx.AsyncClient,
) -> None:
    spec = (await faked.get("/openapi.json")).json()
    assert {"/v1/articles/{article_id}", "/v1/articles", "/v1/entities"} <= set(spec["paths"])
    listing = spec["paths"]["/v1/articles"]["get"]
    status = next(p for p in listing["parameters"] if p["name"] == "status")
    assert "failed" in json.dumps(status["schema"])
    one = spec["paths"]["/v1/articles/{article_id}"]["get"]
    assert {"401", "404", "422", "503"} <= set(one["responses"])
    article = spec["components"]["schemas"]["ArticleOut"]
    assert "failure" in article["properties"]
    assert set(spec["components"]["schemas"]["FailureOut"]["required"]) >= {
        "reason",
        "stage",
        "detail",
        "attempts",
        "failed_at",
    }
    assert (await faked.get("/docs")).status_code == 200


async def test_metrics_are_exposed(faked: httpx.AsyncClient) -> None:
    metrics = (await faked.get("/metrics")).text
    for name in (
        "enrich_consumer_lag_records",
        "enrich_batch_size_records",
        "enrich_nlp_seconds",
        "enrich_dlq_records_total",
        "enrich_outbox_backlog_rows",
    ):
        assert name in metrics


# --- access control -------------------------------------------------------------------


@pytest.fixture
async def locked(store: FakeReadStore) -> AsyncIterator[httpx.AsyncClient]:
    async for c in serve(build_app(settings(api_keys=" alpha-key , beta-key "), store=store)):
        yield c


@pytest.mark.parametrize("path", ["/v1/articles", "/v1/entities", "/articles", "/metrics"])
async def test_with_keys_the_read_side_needs_one(locked: httpx.AsyncClient, path: str) -> None:
    for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer alpha"}):
        response = await locked.get(path, headers=headers)
        body = assert_problem(response, 401)
        assert "X-API-Key" in body["detail"]
        assert response.headers["www-authenticate"].startswith("Bearer")
    for headers in (
        {"Authorization": "Bearer alpha-key"},
        {"authorization": "bearer beta-key"},
        {"X-API-Key": "beta-key"},
    ):
        assert (await locked.get(path, headers=headers)).status_code == 200


async def test_with_keys_the_probes_stay_open(locked: httpx.AsyncClient) -> None:
    assert (await locked.get("/healthz")).status_code == 200
    # Ready or not, it answers without a key (the fake store needs no database; the
    # runtime's ping does, so it is 503 here, never 401).
    assert (await locked.get("/readyz")).status_code == 503


@pytest.mark.parametrize("value", [" , ", ",", " ", ",,, ,"])
def test_keys_set_but_empty_refuse_to_start(value: str) -> None:
    with pytest.raises(ValueError, match="ENRICH_API_KEYS is set but holds no key"):
        settings(api_keys=value)


def test_keys_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENRICH_API_KEYS", "k1,k2")
    assert Settings().api_key_set() == {"k1", "k2"}
    monkeypatch.setenv("ENRICH_API_KEYS", " , ")
    with pytest.raises(ValueError, match="ENRICH_API_KEYS"):
        Settings()


async def test_a_non_ascii_key_matches_the_bytes_sent(store: FakeReadStore) -> None:
    async for c in serve(build_app(settings(api_keys="clé-ünï"), store=store)):
        sent = {b"X-API-Key": "clé-ünï".encode()}
        assert (await c.get("/v1/entities", headers=sent)).status_code == 200
        assert (await c.get("/v1/entities", headers={"X-API-Key": "cle"})).status_code == 401
