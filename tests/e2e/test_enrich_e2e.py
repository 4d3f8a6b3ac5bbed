"""End to end: POST the sample to ingest → enrich's read API and the enriched topic have it."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from newsflow_local.stack import Services
from newsflow_schema import ArticleEnrichedEvent, decode, decode_headers, topics

pytestmark = pytest.mark.e2e

# Includes spawning the NLP worker and loading the spaCy model on first use.
DEADLINE_S = 120.0


async def test_posted_sample_is_readable_enriched_and_published(
    services: Services, kafka_bootstrap: str, sample_text: str
) -> None:
    subscriber = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    await subscriber.start()
    try:
        await subscriber._client.force_metadata_update()
        partitions = subscriber.partitions_for_topic(topics.ENRICHED) or set()
        tps = [TopicPartition(topics.ENRICHED, p) for p in sorted(partitions)]
        assert tps, "the enriched topic has no partitions"
        subscriber.assign(tps)
        # Only events published after the POST count.
        for tp, end in (await subscriber.end_offsets(tps)).items():
            subscriber.seek(tp, end)

        # A URL of its own, so this run's article id is new to the shared database.
        url = f"https://example.com/world/kherson-{uuid.uuid4().hex}"
        async with httpx.AsyncClient(timeout=30) as client:
            posted = await client.post(
                f"{services.url('ingest')}/v1/articles",
                json={"text": sample_text, "url": url, "source": "e2e"},
            )
            assert posted.status_code == 202, posted.text
            article_id = posted.json()["id"]
            location = posted.headers["Location"]
            assert location == f"{services.url('enrich')}/v1/articles/{article_id}"

            deadline = time.monotonic() + DEADLINE_S
            while True:
                got = await client.get(location)
                if got.status_code == 200:
                    break
                assert got.status_code == 404, got.text
                assert got.headers["content-type"].startswith("application/problem+json")
                assert time.monotonic() < deadline, f"{article_id} not enriched in time"
                await asyncio.sleep(0.5)

        article = got.json()
        assert article["status"] == "enriched"
        assert article["article_id"] == article_id
        assert len(article["entities"]) >= 10
        for entity in article["entities"]:
            for m in entity["mentions"]:
                assert article["body"][m["start"] : m["end"]] == m["text"]
        assert article["models"]

        received: list[Any] = []
        deadline = time.monotonic() + DEADLINE_S
        while not received:
            assert time.monotonic() < deadline, "no enriched event for the article"
            batch = await subscriber.getmany(timeout_ms=1000)
            received += [r for recs in batch.values() for r in recs if r.key == article_id.encode()]
        event = decode(ArticleEnrichedEvent, received[0].value)
        assert str(event.article_id) == article_id
        assert str(event.event_id) == article["enriched_event_id"]
        assert decode_headers(received[0].headers).id == str(event.event_id)
        assert {(e.name, e.label) for e in event.entities} == {
            (e["name"], e["label"]) for e in article["entities"]
        }

        # One trace from the HTTP request through both topics into enrich's log lines.
        trace_id = posted.headers["traceparent"].split("-")[1]
        assert decode_headers(received[0].headers).traceparent is not None
        assert decode_headers(received[0].headers).traceparent.split("-")[1] == trace_id
        # The line is written once the batch's offsets are committed, which may come after
        # the relay published the event: wait for it.
        deadline = time.monotonic() + DEADLINE_S
        while not (enriched := _enriched_lines(services, article_id)):
            assert time.monotonic() < deadline, "no 'article enriched' line in enrich's log"
            await asyncio.sleep(0.5)
        assert enriched and enriched[0]["trace_id"] == trace_id
    finally:
        await subscriber.stop()


def _enriched_lines(services: Services, article_id: str) -> list[dict[str, Any]]:
    lines = [
        json.loads(line)
        for line in (services.state / "logs" / "enrich.log").read_text().splitlines()
        if line.startswith("{")
    ]
    return [
        line
        for line in lines
        if line["msg"] == "article enriched" and line.get("article_id") == article_id
    ]
