"""`newsflow replay`: time arguments, raw events built from stored articles, enrich's rule."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from newsflow_cli.replay import WhenError, list_articles, parse_when, raw_event_for, replay
from newsflow_cli.settings import Settings
from newsflow_enrich.pipeline import StoredVersion, needs_enrichment
from newsflow_schema import ArticleRawEvent, OriginalContent, content_hash

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7d", NOW - timedelta(days=7)),
        ("12h", NOW - timedelta(hours=12)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2022-09-13", datetime(2022, 9, 13, tzinfo=UTC)),
        ("2022-09-13T08:00:00+02:00", datetime(2022, 9, 13, 6, tzinfo=UTC)),
        ("2022-09-13T08:00:00Z", datetime(2022, 9, 13, 8, tzinfo=UTC)),
    ],
)
def test_parse_when(value: str, expected: datetime) -> None:
    assert parse_when(value, now=NOW) == expected


def test_parse_when_says_what_it_takes() -> None:
    with pytest.raises(WhenError, match="use e.g. 2022-09-13"):
        parse_when("last tuesday", now=NOW)


def stored(**overrides: object) -> dict[str, object]:
    body = "Kherson was liberated, officials said."
    data: dict[str, object] = {
        "article_id": "6f1d3c1e-4b8a-5e0f-9a52-1c1e3a7d9b10",
        "url": "https://example.com/a",
        "canonical_url": "https://example.com/a",
        "source": "example.com",
        "title": "Kherson",
        "body": body,
        "published_at": "2022-09-13T00:00:00Z",
        "language": "en",
        "authors": ["Jane Roe"],
        "tags": ["war"],
        "content_hash": content_hash("Kherson", body),
        "received_at": "2026-01-09T10:00:00+00:00",
        "raw_event_id": str(uuid.uuid4()),
    }
    data.update(overrides)
    return data


def test_raw_event_keeps_the_stored_article_and_asks_for_reprocessing() -> None:
    data = stored()
    event = raw_event_for(data)
    assert event.reprocess is True
    assert str(event.article_id) == data["article_id"]
    assert event.content_hash == data["content_hash"]
    assert event.body == data["body"] and event.title == "Kherson"
    assert event.authors == ("Jane Roe",) and event.tags == ("war",)
    assert event.original == OriginalContent(format="text", content=str(data["body"]))
    # Kept, so a newer version stored meanwhile is never overwritten by the replay.
    assert event.received_at == datetime(2026, 1, 9, 10, tzinfo=UTC)
    assert str(event.event_id) != data["raw_event_id"]


def raw(reprocess: bool, body: str = "Body.") -> ArticleRawEvent:
    return ArticleRawEvent(
        article_id=uuid.uuid4(),
        title="T",
        body=body,
        content_hash=content_hash("T", body),
        original=OriginalContent(format="text", content=body),
        reprocess=reprocess,
    )


def test_enrich_skips_redeliveries_but_not_replays() -> None:
    posted, replayed = raw(False), raw(True)
    same_post = StoredVersion(posted.content_hash, uuid.uuid4())
    assert needs_enrichment(posted, None)
    assert not needs_enrichment(posted, same_post)
    assert needs_enrichment(raw(False, "Other."), same_post)
    # A replay runs NLP again on unchanged content, once: its redelivery finds itself stored.
    assert needs_enrichment(replayed, StoredVersion(replayed.content_hash, uuid.uuid4()))
    assert not needs_enrichment(replayed, StoredVersion(replayed.content_hash, replayed.event_id))


async def test_listing_pages_through_and_applies_until() -> None:
    pages = {
        None: {
            "items": [
                {"article_id": "a", "received_at": "2026-01-09T12:00:00+00:00"},
                {"article_id": "b", "received_at": "2026-01-09T09:00:00+00:00"},
            ],
            "next_cursor": "c1",
        },
        "c1": {
            "items": [{"article_id": "c", "received_at": "2026-01-08T09:00:00+00:00"}],
            "next_cursor": None,
        },
    }
    queries: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        queries.append(params)
        return httpx.Response(200, json=pages[params.get("cursor")])

    settings = Settings(read_url="http://read/")
    until = datetime(2026, 1, 9, 10, tzinfo=UTC)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        found = [
            s["article_id"]
            async for s in list_articles(client, settings, NOW - timedelta(days=7), until)
        ]
    assert found == ["b", "c"]
    assert queries[0]["since"] == (NOW - timedelta(days=7)).isoformat()
    assert queries[1]["cursor"] == "c1"


async def test_dry_run_lists_and_publishes_nothing() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/articles", "a dry run fetches no article"
        return httpx.Response(
            200, json={"items": [json.loads(json.dumps(stored()))], "next_cursor": None}
        )

    totals: list[int] = []
    report = await replay(
        # No broker listens here: a dry run must not connect to Kafka.
        Settings(read_url="http://read", kafka_bootstrap_servers="127.0.0.1:9"),
        NOW - timedelta(days=7),
        None,
        dry_run=True,
        on_total=totals.append,
        transport=httpx.MockTransport(handler),
    )
    assert [s["article_id"] for s in report.planned] == [stored()["article_id"]]
    assert report.replayed == [] and totals == [1]
