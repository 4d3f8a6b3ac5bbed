"""Replay on a real broker and PostgreSQL: a reprocess event re-enriches unchanged content once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

import pytest

from newsflow_enrich.nlp import Document
from newsflow_enrich.nlp.workers import InlineRunner, Outcome
from newsflow_schema import ArticleEnrichedEvent, decode
from tests.integration.test_enrich_pipeline import (
    BODY,
    KeywordEnricher,
    Pipeline,
    enriched_events_for,
    produce_raw,
    raw_event,
    running_pipeline,
)

pytestmark = pytest.mark.integration


class CountingRunner(InlineRunner):
    """The keyword enricher, counting the documents NLP was asked to analyse."""

    def __init__(self) -> None:
        super().__init__(KeywordEnricher())
        self.analysed: list[str] = []

    async def enrich(self, docs: Sequence[Document]) -> list[Outcome]:
        self.analysed.extend(d.key for d in docs)
        return await super().enrich(docs)


async def article_row(p: Pipeline, article_id: uuid.UUID) -> tuple[int, uuid.UUID, int]:
    """(version, raw_event_id, outbox rows) of the stored article."""
    version = await p.scalar("SELECT version FROM articles WHERE article_id = :id", id=article_id)
    raw_id = await p.scalar(
        "SELECT raw_event_id FROM articles WHERE article_id = :id", id=article_id
    )
    outbox = await p.scalar("SELECT count(*) FROM outbox WHERE article_id = :id", id=article_id)
    return int(version), raw_id, int(outbox)


async def test_replay_re_enriches_once_and_its_redelivery_changes_nothing(
    kafka_bootstrap: str, database_url: str
) -> None:
    nlp = CountingRunner()
    original = raw_event(BODY)
    key = str(original.article_id)
    async with running_pipeline(kafka_bootstrap, database_url, nlp) as p:
        tp, offset = await produce_raw(kafka_bootstrap, original)
        await p.wait_committed_past(tp, offset)
        await p.wait_published(original.article_id)
        assert await article_row(p, original.article_id) == (1, original.event_id, 1)

        # A redelivery of the original post: same content, no NLP, no write.
        tp, offset = await produce_raw(kafka_bootstrap, original)
        await p.wait_committed_past(tp, offset)
        assert await article_row(p, original.article_id) == (1, original.event_id, 1)
        assert nlp.analysed.count(key) == 1  # the shared topic holds other tests' records too

        # The replay: same content and received_at, reprocess=True, a new event id.
        replay = original.model_copy(update={"event_id": uuid.uuid4(), "reprocess": True})
        tp, offset = await produce_raw(kafka_bootstrap, replay)
        await p.wait_committed_past(tp, offset)
        await p.wait_published(original.article_id)
        assert await article_row(p, original.article_id) == (2, replay.event_id, 2)
        assert nlp.analysed.count(key) == 2

        # The same replay event again (a redelivery after a crash): nothing changes.
        tp, offset = await produce_raw(kafka_bootstrap, replay)
        await p.wait_committed_past(tp, offset)
        assert await article_row(p, original.article_id) == (2, replay.event_id, 2)
        assert nlp.analysed.count(key) == 2

        # A replay of an older version never overwrites newer content stored meanwhile.
        newer_body = BODY + " Kyiv welcomed the news."
        newer = raw_event(newer_body, article_id=original.article_id)
        tp, offset = await produce_raw(kafka_bootstrap, newer)
        await p.wait_committed_past(tp, offset)
        stale = original.model_copy(
            update={
                "event_id": uuid.uuid4(),
                "reprocess": True,
                "received_at": newer.received_at - timedelta(seconds=1),
            }
        )
        tp, offset = await produce_raw(kafka_bootstrap, stale)
        await p.wait_committed_past(tp, offset)
        await p.wait_published(original.article_id)
        assert await article_row(p, original.article_id) == (3, newer.event_id, 3)
        stored_hash = await p.scalar(
            "SELECT content_hash FROM articles WHERE article_id = :id", id=original.article_id
        )
        assert stored_hash == newer.content_hash

    # Subscribers saw one enriched event per write: the post, the replay, the newer version.
    events = [
        decode(ArticleEnrichedEvent, r.value)
        for r in await enriched_events_for(kafka_bootstrap, original.article_id)
    ]
    assert [e.raw_event_id for e in events] == [
        original.event_id,
        replay.event_id,
        newer.event_id,
    ]
