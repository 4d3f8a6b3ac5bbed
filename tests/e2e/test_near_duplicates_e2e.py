"""End to end: one story posted three ways is one cluster; a same-topic story stays apart."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from newsflow_local.stack import Services
from newsflow_schema import ArticleEnrichedEvent, decode, topics

pytestmark = pytest.mark.e2e

DEADLINE_S = 120.0

PARAGRAPHS = [
    "The harbour authority in Cork said on Tuesday that the north quay would close for "
    "repairs after inspectors found cracks in two of its concrete piles.",
    "“We cannot take the risk with loaded trucks on it,” said Aoife Brennan, the "
    "authority's chief engineer, adding that ferries would dock at the south terminal "
    "until March.",
    "Shipping companies were told of the closure in a letter on Monday. Two of them said "
    "the change would add a day to some deliveries of grain and timber.",
    "The quay was last rebuilt in 1987. Engineers expect the repairs to cost about four "
    "million euros, to be shared by the port and the national transport fund.",
]
ORIGINAL = "\n\n".join(PARAGRAPHS)
# The same wire story on another site: its own menus, credit and share lines around it.
SYNDICATED = (
    "<html><head><title>Cork quay to close for repairs</title></head><body>"
    "<nav><a href='/'>Home</a> <a href='/ireland'>Ireland</a></nav><article>"
    "<h1>Cork quay to close for repairs</h1>"
    + "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    + "<p>This article first appeared on the Example Wire and is republished with "
    "permission.</p></article><footer>Share this article · © Harbour Times</footer>"
    "</body></html>"
)
# An update under a new URL: a correction and a new last paragraph.
UPDATED = (
    ORIGINAL.replace("until March", "until the end of March")
    + "\n\nUpdate: the authority said on Wednesday that work would start next week."
)
SAME_TOPIC = (
    "Cork's north quay is to shut for months, the harbour authority said, after cracks "
    "were found in its piles during a routine inspection this winter.\n\n"
    "Hauliers criticised the short notice. “Nobody asked us,” said Declan Murphy of the "
    "Irish Road Haulage Association, who said drivers faced long detours through the city "
    "while the work goes on."
)


async def _post(client: httpx.AsyncClient, services: Services, body: dict[str, Any]) -> str:
    posted = await client.post(f"{services.url('ingest')}/v1/articles", json=body)
    assert posted.status_code == 202, posted.text
    return str(posted.json()["id"])


async def _enriched(client: httpx.AsyncClient, services: Services, article_id: str) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        got = await client.get(f"{services.url('enrich')}/v1/articles/{article_id}")
        if got.status_code == 200:
            return got.json()
        assert got.status_code == 404, got.text
        assert time.monotonic() < deadline, f"{article_id} not enriched in time"
        await asyncio.sleep(0.5)


async def _events(bootstrap: str, ids: set[str]) -> dict[str, ArticleEnrichedEvent]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topics.ENRICHED) or set()
        tps = [TopicPartition(topics.ENRICHED, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        found: dict[str, ArticleEnrichedEvent] = {}
        deadline = time.monotonic() + DEADLINE_S
        while set(found) != ids:
            assert time.monotonic() < deadline, f"enriched events missing: {ids - set(found)}"
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for r in records:
                    key = r.key.decode() if r.key else ""
                    if key in ids:
                        found[key] = decode(ArticleEnrichedEvent, r.value)
        return found
    finally:
        await consumer.stop()


async def test_one_story_three_ways_is_one_cluster_and_a_same_topic_story_is_not(
    services: Services, kafka_bootstrap: str
) -> None:
    run = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(timeout=30) as client:
        original = await _post(
            client,
            services,
            {"title": "Cork quay to close", "text": ORIGINAL,
             "url": f"https://harbour.example/{run}/quay"},
        )  # fmt: skip
        await _enriched(client, services, original)
        copy = await _post(
            client, services, {"html": SYNDICATED, "url": f"https://times.example/{run}/cork"}
        )
        update = await _post(
            client,
            services,
            {"title": "Cork quay closure: work starts next week", "text": UPDATED,
             "url": f"https://harbour.example/{run}/quay-update"},
        )  # fmt: skip
        other = await _post(
            client,
            services,
            {"title": "Hauliers angry at quay closure", "text": SAME_TOPIC,
             "url": f"https://news.example/{run}/hauliers"},
        )  # fmt: skip
        for article_id in (copy, update, other):
            await _enriched(client, services, article_id)
        # Read again once all four are stored: the original's cluster grew after its read.
        articles = {i: await _enriched(client, services, i) for i in (original, copy, update)}
        unrelated = await _enriched(client, services, other)
        deduped = await client.get(
            f"{services.url('enrich')}/v1/articles", params={"dedupe": "true", "limit": 200}
        )
    assert len({original, copy, update, other}) == 4
    for article_id, article in articles.items():
        assert article["cluster_id"] == original, article_id
        expected = [i for i in (original, copy, update) if i != article_id]
        assert sorted(article["near_duplicates"]) == sorted(expected)
    assert articles[original]["duplicate_of"] is None
    assert articles[copy]["duplicate_of"] == original
    assert articles[update]["duplicate_of"] == original
    assert unrelated["cluster_id"] == other
    assert unrelated["near_duplicates"] == []
    listed = {item["article_id"] for item in deduped.json()["items"]}
    assert original in listed and other in listed
    assert copy not in listed and update not in listed

    events = await _events(kafka_bootstrap, {original, copy, update, other})
    assert {str(e.cluster_id) for i, e in events.items() if i != other} == {original}
    assert events[copy].duplicate_of == uuid.UUID(original)
    assert events[original].duplicate_of is None
    assert events[other].cluster_id == uuid.UUID(other)
    assert all(e.version == 1 for e in events.values())
