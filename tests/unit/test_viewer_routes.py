"""Unit tests of the viewer's HTML routes, with a fake read store behind the dependency."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from newsflow_enrich.app import build_app
from newsflow_enrich.db.read import StoredArticle, encode_cursor
from newsflow_enrich.settings import Settings
from tests.support.ports import free_port
from tests.support.read_store import NOW, FakeReadStore, article_row, failure_row, summary_row

pytestmark = pytest.mark.unit


@pytest.fixture
def store() -> FakeReadStore:
    return FakeReadStore()


@pytest.fixture
async def client(store: FakeReadStore) -> AsyncIterator[httpx.AsyncClient]:
    # Nothing listens on this port: a read that missed the fake would fail loudly.
    settings = Settings(
        database_url=f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/none",
        consumer_enabled=False,
        relay_enabled=False,
        retry_after_s=7,
    )
    app: FastAPI = build_app(settings, store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://enrich") as c:
            yield c


def assert_html(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.text.startswith("<!DOCTYPE html>")
    return response.text


async def test_an_enriched_article_is_a_page(
    client: httpx.AsyncClient, store: FakeReadStore
) -> None:
    article_id = uuid.uuid4()
    store.stored[article_id] = StoredArticle(article_row(article_id), None)
    html = assert_html(await client.get(f"/articles/{article_id}"), 200)
    assert store.looked_up == [article_id]
    assert '<mark class="ent ent-PERSON"' in html
    assert "Kherson is &lt;b&gt;calm&lt;/b&gt;" in html
    assert "<b>calm</b>" not in html
    assert 'class="who"' in html and 'class="stance stance-favor"' in html
    assert 'class="failure"' not in html

    missing = assert_html(await client.get(f"/articles/{uuid.uuid4()}"), 404)
    assert "No article" in missing


async def test_a_queued_article_is_a_readable_404(
    client: httpx.AsyncClient, store: FakeReadStore
) -> None:
    article_id = uuid.uuid4()
    store.stored[article_id] = StoredArticle(article_row(article_id, status="queued"), None)
    html = assert_html(await client.get(f"/articles/{article_id}"), 404)
    assert "not enriched yet" in html


async def test_a_failed_article_says_why(client: httpx.AsyncClient, store: FakeReadStore) -> None:
    never, older = uuid.uuid4(), uuid.uuid4()
    store.stored[never] = StoredArticle(None, failure_row(never, reason="db-rejected"))
    store.stored[older] = StoredArticle(article_row(older), failure_row(older))

    html = assert_html(await client.get(f"/articles/{never}"), 200)
    assert 'class="failure"' in html and "<code>db-rejected</code>" in html
    assert "budget &lt;twice&gt;" in html and "No version of this article was enriched" in html
    assert "A &lt;i&gt;failed&lt;/i&gt; one" in html

    kept = assert_html(await client.get(f"/articles/{older}"), 200)
    assert "<code>nlp-budget</code>" in kept and "last one that was enriched" in kept
    assert '<mark class="ent ent-PERSON"' in kept


async def test_a_malformed_id_is_a_404_page_with_the_id_escaped(
    client: httpx.AsyncClient,
) -> None:
    html = assert_html(await client.get("/articles/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"), 404)
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


async def test_database_down_is_a_503_page_with_the_configured_retry_after(
    client: httpx.AsyncClient, store: FakeReadStore
) -> None:
    store.down = True
    response = await client.get(f"/articles/{uuid.uuid4()}")
    assert_html(response, 503)
    assert response.headers["retry-after"] == "7"
    listing = await client.get("/articles")
    assert_html(listing, 503)
    assert listing.headers["retry-after"] == "7"


async def test_article_list_pages_filters_and_shows_failures(
    client: httpx.AsyncClient, store: FakeReadStore
) -> None:
    ok, bad = uuid.uuid4(), uuid.uuid4()
    store.page = [summary_row(ok), summary_row(bad, status="failed", title="Broken")]
    store.next_cursor = encode_cursor(NOW, bad)
    html = assert_html(await client.get("/articles", params={"entity": "Kherson"}), 200)
    assert f'href="/articles/{ok}"' in html and f'href="/articles/{bad}"' in html
    assert "A &lt;i&gt;title&lt;/i&gt;" in html
    assert 'failed: <span class="reason">db-rejected</span> (2026-01-02 03:04 UTC)' in html
    assert store.queries[0].entity == "Kherson" and store.queries[0].cursor is None
    assert 'rel="next"' in html and "entity=Kherson" in html

    assert_html(await client.get("/articles", params={"cursor": store.next_cursor}), 200)
    assert store.queries[1].cursor == (NOW, bad)

    bad_cursor = assert_html(await client.get("/articles", params={"cursor": "garbage"}), 400)
    assert "cursor" in bad_cursor


async def test_a_nul_in_the_entity_filter_is_a_422_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.get("/articles", params={"entity": "\x00"})
    assert response.status_code == 422
    assert "entity" in response.json()["detail"]


async def test_viewer_pages_stay_out_of_the_api_schema(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/v1/articles/{article_id}" in paths
    assert not [p for p in paths if p.startswith("/articles")]
