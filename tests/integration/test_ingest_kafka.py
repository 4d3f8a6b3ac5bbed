"""Ingest against the real broker: what reaches news.articles.raw.v1, and what never does."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from newsflow_schema import ArticleRawEvent, decode, decode_headers, header_map, topics
from tests.integration.ingest_support import (
    RawTopic,
    RunningIngest,
    ingest_settings,
    running_ingest,
)

pytestmark = pytest.mark.integration

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
SAMPLE_TITLE = (
    "‘Demoralised’ Russian Forces Negotiating Surrender in Kherson Amid Ukraine’s Blitzkrieg"
)


def unique_article(**extra: Any) -> dict[str, Any]:
    token = uuid.uuid4().hex
    return {
        "text": f"Headline {token}\n\nBody of article {token}, reported on Tuesday.",
        "source": "integration-test",
        **extra,
    }


@pytest.fixture(scope="module")
async def ingest(kafka_bootstrap: str) -> AsyncIterator[RunningIngest]:
    settings = ingest_settings(
        kafka_bootstrap, max_body_bytes=50_000, max_batch_items=10, max_text_chars=40_000
    )
    async with running_ingest(settings) as running:
        yield running


@pytest.fixture
async def raw(kafka_bootstrap: str) -> AsyncIterator[RawTopic]:
    async with RawTopic(kafka_bootstrap) as topic:
        await topic.mark()
        yield topic


async def test_one_article_gives_exactly_one_record(ingest: RunningIngest, raw: RawTopic) -> None:
    article = unique_article(url="https://example.com/news/one?utm_source=feed")
    response = await ingest.client.post(
        "/v1/articles", json=article, headers={"traceparent": TRACEPARENT}
    )

    assert response.status_code == 202, response.text
    body = response.json()
    (record,) = await raw.read_new(1)
    assert await raw.new_count() == 1
    assert (record.topic, record.partition, record.offset) == (
        topics.RAW,
        body["partition"],
        body["offset"],
    )
    assert record.key == body["id"].encode()
    event = decode(ArticleRawEvent, record.value)
    assert str(event.article_id) == body["id"]
    assert event.canonical_url == "https://example.com/news/one"
    assert event.title == article["text"].split("\n")[0]
    assert event.original.content == article["text"]
    headers = header_map(record.headers)
    assert headers["content-type"] == "application/json"
    attributes = decode_headers(record.headers)
    assert attributes.id == str(event.event_id) == body["event_id"]
    assert attributes.type == ArticleRawEvent.EVENT_TYPE
    assert attributes.subject == body["id"]
    # The caller's trace continues, with this request's span as the parent of what follows.
    assert attributes.traceparent is not None
    assert attributes.traceparent.split("-")[1] == TRACEPARENT.split("-")[1]
    assert attributes.traceparent != TRACEPARENT
    assert response.headers["traceparent"] == attributes.traceparent
    assert response.headers["location"] == f"http://127.0.0.1:8001/v1/articles/{body['id']}"


async def test_sample_article_record(
    ingest: RunningIngest, raw: RawTopic, sample_text: str
) -> None:
    response = await ingest.client.post("/v1/articles", json={"text": sample_text})

    assert response.status_code == 202, response.text
    (record,) = await raw.read_new(1)
    event = decode(ArticleRawEvent, record.value)
    assert event.title == SAMPLE_TITLE
    assert event.published_at is not None
    assert event.published_at.date().isoformat() == "2022-09-13"
    assert "Google tag" not in event.body and "-->" not in event.body
    assert record.key == response.json()["id"].encode()


async def test_a_correction_is_a_new_revision_with_the_same_key(
    ingest: RunningIngest, raw: RawTopic
) -> None:
    article = unique_article(url=f"https://example.com/{uuid.uuid4().hex}", tags=["draft"])
    first = await ingest.client.post("/v1/articles", json=article)
    corrected = await ingest.client.post("/v1/articles", json={**article, "tags": ["final"]})
    same = await ingest.client.post("/v1/articles", json={**article, "tags": ["final"]})

    assert first.status_code == corrected.status_code == 202
    assert same.status_code == 202 and same.json()["status"] == "unchanged"
    assert same.json()["duplicate"] is True
    records = await raw.read_new(2)
    assert await raw.new_count() == 2  # the identical re-post published nothing
    assert {r.key for r in records} == {first.json()["id"].encode()}
    # Same key, same partition: versions of an article stay in order.
    assert len({r.partition for r in records}) == 1
    events = [decode(ArticleRawEvent, r.value) for r in records]
    assert [e.tags for e in events] == [("draft",), ("final",)]
    assert events[0].content_hash != events[1].content_hash


async def test_batch_of_n_gives_n_records(ingest: RunningIngest, raw: RawTopic) -> None:
    articles = [unique_article() for _ in range(7)]
    response = await ingest.client.post("/v1/articles:batch", json=articles)

    assert response.status_code == 202, response.text
    results = response.json()["results"]
    records = await raw.read_new(7)
    assert await raw.new_count() == 7
    assert sorted(r.key.decode() for r in records) == sorted(r["id"] for r in results)
    by_key = {r.key.decode(): r for r in records}
    for result in results:
        record = by_key[result["id"]]
        assert (record.partition, record.offset) == (result["partition"], result["offset"])


async def test_ndjson_batch_with_invalid_items_publishes_only_valid_ones(
    ingest: RunningIngest, raw: RawTopic
) -> None:
    lines = [
        json.dumps(unique_article()),
        json.dumps({"text": ""}),
        "{not json",
        json.dumps(unique_article()),
    ]
    response = await ingest.client.post(
        "/v1/articles:batch",
        content="\n".join(lines).encode(),
        headers={"content-type": "application/x-ndjson"},
    )

    assert response.status_code == 207, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == [202, 422, 400, 202]
    records = await raw.read_new(2)
    assert sorted(r.key.decode() for r in records) == sorted(results[i]["id"] for i in (0, 3))


JSON = {"content-type": "application/json"}
BAD_REQUESTS: list[tuple[str, bytes, dict[str, str], int]] = [
    ("/v1/articles", b'{"text": "unclosed', JSON, 400),
    ("/v1/articles", b'{"text": "\xc3\x28"}', JSON, 400),
    ("/v1/articles", b'{"text": "' + b"x" * 60_000 + b'"}', JSON, 413),
    ("/v1/articles", b'{"text": "fine"}', {"content-type": "text/plain"}, 415),
    ("/v1/articles", b'{"text": ""}', JSON, 422),
    ("/v1/articles", json.dumps({"text": "x" * 40_001}).encode(), JSON, 422),
    ("/v1/articles", b'{"text": "Body.", "url": "ftp://x.org/a"}', JSON, 422),
    ("/v1/articles", b'{"text": "Body.", "published_at": "2999-01-01T00:00:00Z"}', JSON, 422),
    ("/v1/articles", b'{"text": "Body.", "unknown": 1}', JSON, 422),
    ("/v1/articles:batch", json.dumps([{"text": "a"}] * 11).encode(), JSON, 413),
    ("/v1/articles:batch", json.dumps([{"text": ""}]).encode(), JSON, 422),
    ("/v1/articles:batch", b"[{", JSON, 400),
]


async def test_bad_input_publishes_nothing(ingest: RunningIngest, raw: RawTopic) -> None:
    for path, content, headers, status in BAD_REQUESTS:
        response = await ingest.client.post(path, content=content, headers=headers)
        assert response.status_code == status, (path, status, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")

    # A good article after the bad ones is the only new record on the topic.
    marker = await ingest.client.post("/v1/articles", json=unique_article())
    assert marker.status_code == 202
    (record,) = await raw.read_new(1)
    assert record.key == marker.json()["id"].encode()
    assert await raw.new_count() == 1


async def test_readyz_and_metrics_with_a_real_broker(ingest: RunningIngest) -> None:
    ready = await ingest.client.get("/readyz")
    metrics = await ingest.client.get("/metrics")

    assert ready.status_code == 200 and ready.json()["kafka"] == "ok"
    assert "ingest_publish_duration_seconds_bucket" in metrics.text
