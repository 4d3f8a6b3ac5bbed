"""The read API over a real PostgreSQL: failure rows written through SQLAlchemy read back over
HTTP as the failed end state, listed and keyset-paginated with the enriched ones."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from newsflow_enrich.app import build_app
from newsflow_enrich.db.migrate import upgrade
from newsflow_enrich.db.models import Article, ArticleFailure
from newsflow_enrich.settings import Settings
from tests.infra import Infra, create_database, drop_database

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def article(article_id: uuid.UUID, received_at: datetime, title: str) -> Article:
    return Article(
        article_id=article_id,
        url=f"https://example.com/{article_id}",
        canonical_url=f"https://example.com/{article_id}",
        source="read-api-test",
        title=title,
        body=f"{title}. Some body.",
        content_hash="a" * 64,
        raw_event_id=uuid.uuid4(),
        enriched_event_id=uuid.uuid4(),
        status="enriched",
        received_at=received_at,
        enriched_at=received_at + timedelta(seconds=1),
    )


def failure(
    article_id: uuid.UUID, received_at: datetime | None, reason: str, **extra: Any
) -> ArticleFailure:
    return ArticleFailure(
        article_id=article_id,
        reason=reason,
        stage=extra.pop("stage", "nlp"),
        detail=f"{reason}: it could not be done",
        attempts=3,
        failed_at=extra.pop("failed_at", T0 + timedelta(hours=1)),
        raw_event_id=uuid.uuid4(),
        source_topic="articles.raw",
        source_partition=0,
        source_offset=42,
        received_at=received_at,
        **extra,
    )


@pytest.fixture(scope="module")
async def read_db(infra: Infra) -> AsyncIterator[str]:
    """A database of its own, so the listing holds exactly the rows written here."""
    url = await create_database(infra.server_url, prefix="enrich_read_api")
    await asyncio.to_thread(upgrade, url)
    yield url
    await drop_database(infra.server_url, url)


IDS = {name: uuid.uuid4() for name in ("enriched", "failed_new", "failed_older", "undecodable")}


@pytest.fixture(scope="module")
async def client(read_db: str) -> AsyncIterator[httpx.AsyncClient]:
    engine = create_async_engine(read_db)
    async with AsyncSession(engine) as session, session.begin():
        session.add_all(
            [
                article(IDS["enriched"], T0, "Enriched only"),
                article(IDS["failed_older"], T0 + timedelta(minutes=1), "Older version"),
                failure(
                    IDS["failed_older"], T0 + timedelta(minutes=3), "db-rejected", stage="database"
                ),
                failure(
                    IDS["failed_new"],
                    T0 + timedelta(minutes=2),
                    "nlp-budget",
                    title="Never enriched",
                    url="https://example.com/never",
                ),
                # Undecodable: nothing but when it failed is known.
                failure(
                    IDS["undecodable"],
                    None,
                    "undecodable",
                    stage="decode",
                    failed_at=T0 + timedelta(minutes=4),
                ),
            ]
        )
    settings = Settings(database_url=read_db, consumer_enabled=False, relay_enabled=False)
    app = build_app(settings, engine=engine)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://enrich") as c:
                yield c
    finally:
        await engine.dispose()


async def test_each_end_state_reads_back(client: httpx.AsyncClient) -> None:
    ok = (await client.get(f"/v1/articles/{IDS['enriched']}")).json()
    assert ok["status"] == "enriched" and ok["failure"] is None and ok["version"] == 1

    never = (await client.get(f"/v1/articles/{IDS['failed_new']}")).json()
    assert never["status"] == "failed" and never["body"] is None
    assert never["failure"]["reason"] == "nlp-budget" and never["failure"]["attempts"] == 3
    assert never["title"] == "Never enriched" and never["url"] == "https://example.com/never"

    older = (await client.get(f"/v1/articles/{IDS['failed_older']}")).json()
    assert older["status"] == "failed" and older["failure"]["stage"] == "database"
    assert older["body"] == "Older version. Some body." and older["version"] == 1

    missing = await client.get(f"/v1/articles/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert "not enriched yet, or unknown" in missing.json()["detail"]


async def walk(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    """Every item of the listing, one page of one item at a time."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(20):
        query = {**params, "limit": 1, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/articles", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the listing did not end")


async def test_listing_pages_through_both_states_newest_first(client: httpx.AsyncClient) -> None:
    everything = await walk(client)
    assert [uuid.UUID(i["article_id"]) for i in everything] == [
        IDS["undecodable"],  # failed at +4 min, never received
        IDS["failed_older"],  # received +3 min (its failed delivery)
        IDS["failed_new"],  # +2 min
        IDS["enriched"],  # +0
    ]
    assert [i["status"] for i in everything] == ["failed", "failed", "failed", "enriched"]
    assert everything[1]["failure"] == {
        "reason": "db-rejected",
        "stage": "database",
        "failed_at": (T0 + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
    }
    assert everything[1]["title"] == "Older version"

    failed = await walk(client, status="failed")
    assert [i["article_id"] for i in failed] == [i["article_id"] for i in everything[:3]]
    enriched = await walk(client, status="enriched")
    assert [uuid.UUID(i["article_id"]) for i in enriched] == [IDS["enriched"]]

    recent = await walk(client, since=(T0 + timedelta(minutes=2)).isoformat())
    assert [i["article_id"] for i in recent] == [i["article_id"] for i in everything[:3]]


async def test_out_of_range_input_is_a_4xx_against_the_real_database(
    client: httpx.AsyncClient,
) -> None:
    for since in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        response = await client.get("/v1/articles", params={"since": since})
        assert response.status_code == 422, response.text
    # The earliest and latest instants that exist are fine.
    for since in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"):
        assert (await client.get("/v1/articles", params={"since": since})).status_code == 200
    assert (await client.get("/v1/articles", params={"entity": "\x00"})).status_code == 422
