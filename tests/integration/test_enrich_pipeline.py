"""The enrich pipeline on a real broker and a real PostgreSQL: rows, events, DLQ, outages."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import OutOfOrderSequenceNumber
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from newsflow_enrich.app import build_app
from newsflow_enrich.db.write import record_failures, store_batch
from newsflow_enrich.kafka import make_producer
from newsflow_enrich.metrics import Metrics
from newsflow_enrich.nlp import Analysis, Document
from newsflow_enrich.nlp.workers import AnalysisRunner, InlineRunner, ProcessPoolRunner
from newsflow_enrich.pipeline import EnrichedArticle, Failure, RecordRef, enrich_article
from newsflow_enrich.runtime import Runtime
from newsflow_enrich.settings import Settings
from newsflow_enrich.stream.outbox import OutboxRelay, relay_once
from newsflow_local.kafka import DEFAULT_PARTITIONS
from newsflow_schema import (
    ArticleEnrichedEvent,
    ArticleRawEvent,
    DeadLetterEvent,
    Entity,
    Mention,
    ModelInfo,
    OriginalContent,
    Quote,
    Span,
    Stance,
    Tone,
    content_hash,
    decode,
    decode_headers,
    encode,
    encode_headers,
    header_map,
    topics,
)
from tests.infra import Infra

pytestmark = pytest.mark.integration

DEADLINE_S = 60.0


# --- a deterministic enricher, so every table gets rows whatever the NLP does -------------


class KeywordEnricher:
    """Capitalised words as PERSON entities, the first "…" as a quote, one stance, a tone."""

    def enrich(self, docs: Sequence[Document]) -> list[Analysis]:
        return [self._one(doc) for doc in docs]

    def _one(self, doc: Document) -> Analysis:
        found: dict[str, list[Mention]] = {}
        for m in re.finditer(r"\b[A-Z][a-z]{2,}\b", doc.body):
            found.setdefault(m.group(), []).append(
                Mention(start=m.start(), end=m.end(), text=m.group())
            )
        total = sum(len(v) for v in found.values()) or 1
        entities = tuple(
            Entity(
                name=name,
                label="PERSON",
                mentions=tuple(ms),
                mention_count=len(ms),
                salience=len(ms) / total,
            )
            for name, ms in found.items()
        )
        quotes: tuple[Quote, ...] = ()
        q = re.search(r'"([^"]+)"', doc.body)
        if q:
            quotes = (
                Quote(text=q.group(1), span=Span(start=q.start(1), end=q.end(1)), cue="said"),
            )
        stances: tuple[Stance, ...] = ()
        if entities:
            stances = (
                Stance(
                    holder="article",
                    holder_type="article",
                    target=entities[0].name,
                    label="neutral",
                    score=0.0,
                    evidence=(Span(start=0, end=min(10, len(doc.body))),),
                ),
            )
        return Analysis(
            language="en",
            entities=entities,
            quotes=quotes,
            stances=stances,
            tone=Tone(tone=-1.5, positive=1.0, negative=2.5, polarity=3.5),
            models=(ModelInfo(name="keyword-test", version="1"),),
        )


# --- helpers -----------------------------------------------------------------------------


def raw_event(
    body: str, *, article_id: uuid.UUID | None = None, title: str = "T"
) -> ArticleRawEvent:
    return ArticleRawEvent(
        article_id=article_id or uuid.uuid4(),
        title=title,
        body=body,
        source="test",
        content_hash=content_hash(title, body),
        original=OriginalContent(format="text", content=body),
    )


async def wait_for(
    condition: Callable[[], Awaitable[Any]], what: str, deadline_s: float = DEADLINE_S
) -> Any:
    """Poll `condition` until it returns something truthy; fail after the deadline."""
    deadline = time.monotonic() + deadline_s
    while True:
        value = await condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {deadline_s:.0f}s waiting for {what}")
        await asyncio.sleep(0.2)


@dataclass
class Pipeline:
    app: FastAPI
    settings: Settings
    engine: AsyncEngine
    bootstrap: str

    @property
    def runtime(self) -> Runtime:
        rt: Runtime = self.app.state.runtime
        return rt

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.engine.connect() as conn:
            return await conn.scalar(text(sql), params)

    async def committed(self) -> dict[TopicPartition, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(self.settings.group_id)
        finally:
            await admin.close()
        return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}

    async def wait_committed_past(self, tp: TopicPartition, offset: int) -> None:
        async def past() -> bool:
            return bool((await self.committed()).get(tp, -1) > offset)

        await wait_for(past, f"group {self.settings.group_id} to commit past {tp}@{offset}")

    async def wait_article(self, article_id: uuid.UUID, content: str | None = None) -> None:
        async def stored() -> bool:
            found = await self.scalar(
                "SELECT content_hash FROM articles WHERE article_id = :id", id=article_id
            )
            return found is not None and (content is None or found == content)

        await wait_for(stored, f"article {article_id} in PostgreSQL")

    async def wait_published(self, article_id: uuid.UUID) -> None:
        async def published() -> bool:
            pending = await self.scalar(
                "SELECT count(*) FROM outbox WHERE article_id = :id AND published_at IS NULL",
                id=article_id,
            )
            return bool(pending == 0)

        await wait_for(published, f"outbox rows of {article_id} published")


@asynccontextmanager
async def running_pipeline(
    kafka_bootstrap: str, database_url: str, nlp: AnalysisRunner, **overrides: Any
) -> AsyncIterator[Pipeline]:
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        group_id=overrides.pop("group_id", f"enrich-test-{uuid.uuid4().hex[:8]}"),
        batch_timeout_ms=overrides.pop("batch_timeout_ms", 200),
        retry_backoff_initial_s=0.2,
        retry_backoff_max_s=1.0,
        relay_poll_interval_s=0.5,
        session_timeout_ms=10_000,
        shutdown_grace_s=5.0,
        **overrides,
    )
    engine = create_async_engine(database_url, pool_pre_ping=True)
    app = build_app(settings, engine=engine, nlp_factory=lambda _: nlp)
    try:
        async with app.router.lifespan_context(app):
            pipeline = Pipeline(app, settings, engine, kafka_bootstrap)
            consumer = pipeline.runtime.consumer
            assert consumer is not None

            async def assigned() -> bool:
                return bool(consumer.assigned)

            await wait_for(assigned, "partitions assigned to the test consumer")
            yield pipeline
    finally:
        await engine.dispose()


async def produce(
    bootstrap: str, records: Sequence[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]
) -> list[TopicPartition | int]:
    """Send (key, value, headers) records to the raw topic; returns [tp, offset, tp, offset…]."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, max_request_size=4_000_000
    )
    await producer.start()
    out: list[TopicPartition | int] = []
    try:
        for key, value, headers in records:
            meta = await producer.send_and_wait(topics.RAW, value, key=key, headers=headers)
            out += [TopicPartition(meta.topic, meta.partition), meta.offset]
    finally:
        await producer.stop()
    return out


async def produce_raw(bootstrap: str, event: ArticleRawEvent) -> tuple[TopicPartition, int]:
    headers = encode_headers(event, source="/test", subject=str(event.article_id))
    tp, offset = await produce(
        bootstrap, [(str(event.article_id).encode(), encode(event), headers)]
    )
    assert isinstance(tp, TopicPartition) and isinstance(offset, int)
    return tp, offset


async def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every record now in `topic`, read up to the end offsets taken at the start."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records: list[Any] = []
        deadline = time.monotonic() + DEADLINE_S

        async def behind() -> bool:
            positions = [await consumer.position(tp) for tp in tps]
            return any(pos < ends[tp] for pos, tp in zip(positions, tps, strict=True))

        while await behind():
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            batch = await consumer.getmany(timeout_ms=500)
            for recs in batch.values():
                records.extend(
                    r for r in recs if r.offset < ends[TopicPartition(r.topic, r.partition)]
                )
        return records
    finally:
        await consumer.stop()


async def enriched_events_for(bootstrap: str, article_id: uuid.UUID) -> list[Any]:
    return [
        r for r in await read_topic(bootstrap, topics.ENRICHED) if r.key == str(article_id).encode()
    ]


async def table_counts(p: Pipeline, article_id: uuid.UUID) -> dict[str, int]:
    counts = {}
    for table in ("articles", "article_entities", "quotes", "stances", "outbox"):
        counts[table] = await p.scalar(
            f"SELECT count(*) FROM {table} WHERE article_id = :id", id=article_id
        )
    counts["entities"] = await p.scalar(
        "SELECT count(*) FROM entities e JOIN article_entities ae USING (entity_id)"
        " WHERE ae.article_id = :id",
        id=article_id,
    )
    return counts


@pytest.fixture(scope="module")
def keyword_nlp() -> AnalysisRunner:
    return InlineRunner(KeywordEnricher())


BODY = 'Olena Petrenko met Taras Bondar in Odesa. "We will rebuild the port," Petrenko said.'


# --- tests -------------------------------------------------------------------------------


async def test_raw_event_becomes_rows_in_every_table_and_one_enriched_event(
    kafka_bootstrap: str, database_url: str, keyword_nlp: AnalysisRunner
) -> None:
    event = raw_event(BODY)
    async with running_pipeline(kafka_bootstrap, database_url, keyword_nlp) as p:
        tp, offset = await produce_raw(kafka_bootstrap, event)
        await p.wait_article(event.article_id)
        await p.wait_committed_past(tp, offset)
        await p.wait_published(event.article_id)

        counts = await table_counts(p, event.article_id)
        # Olena, Petrenko, Taras, Bondar, Odesa ("We" is too short for KeywordEnricher).
        assert counts == {
            "articles": 1,
            "article_entities": 5,
            "quotes": 1,
            "stances": 1,
            "outbox": 1,
            "entities": 5,
        }

        records = await enriched_events_for(kafka_bootstrap, event.article_id)
        assert len(records) == 1
        [record] = records
        enriched = decode(ArticleEnrichedEvent, record.value)
        assert enriched.article_id == event.article_id
        assert enriched.raw_event_id == event.event_id
        assert enriched.content_hash == event.content_hash
        attrs = decode_headers(record.headers)
        assert attrs.id == str(enriched.event_id)
        assert attrs.type == ArticleEnrichedEvent.EVENT_TYPE
        assert attrs.subject == str(event.article_id)
        stored_event_id = await p.scalar(
            "SELECT event_id FROM outbox WHERE article_id = :id", id=event.article_id
        )
        assert stored_event_id == enriched.event_id
        for entity in enriched.entities:
            for m in entity.mentions:
                assert BODY[m.start : m.end] == m.text

        # The read API serves what was stored, offsets into the stored body.
        transport = httpx.ASGITransport(app=p.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://enrich") as client:
            got = await client.get(f"/v1/articles/{event.article_id}")
            assert got.status_code == 200, got.text
            body = got.json()
            assert body["status"] == "enriched"
            assert body["body"] == BODY
            names = {e["name"] for e in body["entities"]}
            assert {"Petrenko", "Odesa"} <= names
            for e in body["entities"]:
                for m in e["mentions"]:
                    assert body["body"][m["start"] : m["end"]] == m["text"]
            assert body["quotes"][0]["text"] == "We will rebuild the port,"
            assert body["tone"]["negative"] == 2.5

            missing = await client.get(f"/v1/articles/{uuid.uuid4()}")
            assert missing.status_code == 404
            assert missing.headers["content-type"].startswith("application/problem+json")
            assert missing.json()["status"] == 404

            listed = await client.get("/v1/articles", params={"entity": "petrenko", "limit": 1})
            assert listed.status_code == 200
            assert str(event.article_id) in {i["article_id"] for i in listed.json()["items"]}

            ents = await client.get("/v1/entities", params={"q": "Petrenk"})
            assert ents.status_code == 200
            [petrenko] = [i for i in ents.json()["items"] if i["name"] == "Petrenko"]
            assert petrenko["article_count"] >= 1

            bad = await client.get("/v1/articles", params={"cursor": "not-a-cursor"})
            assert bad.status_code == 400
            metrics = await client.get("/metrics")
            assert "enrich_outbox_backlog_rows" in metrics.text
            assert (await client.get("/readyz")).status_code == 200


async def test_same_event_twice_changes_nothing_and_new_content_emits_a_new_event(
    kafka_bootstrap: str, database_url: str, keyword_nlp: AnalysisRunner
) -> None:
    event = raw_event(BODY)
    async with running_pipeline(kafka_bootstrap, database_url, keyword_nlp) as p:
        key = str(event.article_id).encode()
        headers = encode_headers(event, source="/test")
        sent = await produce(kafka_bootstrap, [(key, encode(event), headers)] * 2)
        tp, offset = sent[2], sent[3]
        assert isinstance(tp, TopicPartition) and isinstance(offset, int)
        await p.wait_committed_past(tp, offset)
        await p.wait_published(event.article_id)
        before = await table_counts(p, event.article_id)
        assert before["articles"] == 1 and before["outbox"] == 1
        entity_rows = await p.scalar("SELECT count(*) FROM entities")
        assert len(await enriched_events_for(kafka_bootstrap, event.article_id)) == 1

        # A redelivery in a later batch (a fresh group replays the topic) changes nothing.
        async with running_pipeline(kafka_bootstrap, database_url, keyword_nlp) as again:
            await again.wait_committed_past(tp, offset)
        assert await table_counts(p, event.article_id) == before
        assert await p.scalar("SELECT count(*) FROM entities") == entity_rows
        assert (
            await p.scalar(
                "SELECT version FROM articles WHERE article_id = :id", id=event.article_id
            )
            == 1
        )

        # The same article re-posted with new content: updated, entities replaced, new event.
        new_body = "Ivan Sirko spoke in Lviv. Nobody else did."
        updated = raw_event(new_body, article_id=event.article_id)
        tp2, offset2 = await produce_raw(kafka_bootstrap, updated)
        await p.wait_article(event.article_id, updated.content_hash)
        await p.wait_committed_past(tp2, offset2)
        await p.wait_published(event.article_id)
        assert (
            await p.scalar(
                "SELECT version FROM articles WHERE article_id = :id", id=event.article_id
            )
            == 2
        )
        names = await p.scalar(
            "SELECT string_agg(e.name, ',' ORDER BY e.name) FROM article_entities ae"
            " JOIN entities e USING (entity_id) WHERE ae.article_id = :id",
            id=event.article_id,
        )
        assert names == "Ivan,Lviv,Nobody,Sirko"
        assert (
            await p.scalar(
                "SELECT count(*) FROM quotes WHERE article_id = :id", id=event.article_id
            )
            == 0
        )
        events = await enriched_events_for(kafka_bootstrap, event.article_id)
        assert len(events) == 2
        assert decode(ArticleEnrichedEvent, events[-1].value).content_hash == updated.content_hash


async def test_the_last_batch_of_a_burst_is_committed_without_waiting_for_a_next_poll(
    kafka_bootstrap: str, database_url: str, keyword_nlp: AnalysisRunner
) -> None:
    # A batch is written while the next is in NLP. The poll after the burst's last batch
    # finds nothing fetched: that batch must be committed now, not after a poll that
    # waits batch_timeout_ms (here far beyond the deadline) for records that never come.
    key = uuid.uuid4().hex.encode()  # one key: one partition, in this order
    events = [raw_event(f"Dispatch {i}: Lesya Ukrainka in Chernihiv.") for i in range(5)]
    async with running_pipeline(
        kafka_bootstrap, database_url, keyword_nlp, batch_max=2, batch_timeout_ms=120_000
    ) as p:
        sent = await produce(
            kafka_bootstrap,
            [(key, encode(e), encode_headers(e, source="/test")) for e in events],
        )
        tp, offset = sent[-2], sent[-1]
        assert isinstance(tp, TopicPartition) and isinstance(offset, int)

        async def committed_all() -> bool:
            return bool((await p.committed()).get(tp, -1) > offset)

        await wait_for(committed_all, f"{len(events)} records committed", deadline_s=30.0)
        for event in events:
            await p.wait_article(event.article_id)


async def test_poison_records_go_to_the_dlq_once_and_the_next_record_is_processed(
    kafka_bootstrap: str, database_url: str, keyword_nlp: AnalysisRunner
) -> None:
    key = uuid.uuid4().hex.encode()  # one key: one partition, in this order
    invalid = json.dumps({"schema_version": 1, "article_id": "nope", "body": ""}).encode()
    big = raw_event("Kyiv " * 3_000)
    # Valid JSON and a valid event, but PostgreSQL text cannot hold a NUL character.
    nul = raw_event("Odesa \x00 harbour")
    good = raw_event(BODY)
    async with running_pipeline(
        kafka_bootstrap, database_url, keyword_nlp, max_record_bytes=10_000
    ) as p:
        sent = await produce(
            kafka_bootstrap,
            [
                (key, b"\x00not json{", []),
                (key, invalid, []),
                (key, encode(big), []),
                (key, encode(nul), []),
                (key, encode(good), []),
            ],
        )
        tps, offsets = sent[0::2], sent[1::2]
        assert len(set(tps)) == 1
        tp = tps[0]
        assert isinstance(tp, TopicPartition)
        await p.wait_article(good.article_id)
        last = offsets[-1]
        assert isinstance(last, int)
        await p.wait_committed_past(tp, last)
        assert (
            await p.scalar(
                "SELECT count(*) FROM articles WHERE article_id = :id", id=big.article_id
            )
            == 0
        )

        dead = [
            r
            for r in await read_topic(kafka_bootstrap, topics.DLQ)
            if header_map(r.headers).get("dlq_original_partition") == str(tp.partition)
            and int(header_map(r.headers)["dlq_original_offset"]) in offsets[:4]
            and decode(DeadLetterEvent, r.value).consumer_group == p.settings.group_id
        ]
        assert sorted(int(header_map(r.headers)["dlq_original_offset"]) for r in dead) == sorted(
            o for o in offsets[:4] if isinstance(o, int)
        )
        by_offset = {int(header_map(r.headers)["dlq_original_offset"]): r for r in dead}
        classes = [
            header_map(by_offset[o].headers)["dlq_error_class"]
            for o in offsets[:4]
            if isinstance(o, int)
        ]
        # Pydantic reports unparsable JSON as a ValidationError too (json_invalid).
        assert classes == [
            "ValidationError",
            "ValidationError",
            "OversizedRecordError",
            "RejectedByDatabaseError",
        ]
        for record in dead:
            h = header_map(record.headers)
            assert h["dlq_original_topic"] == topics.RAW
            assert h["dlq_error_message"]
            letter = decode(DeadLetterEvent, record.value)
            assert letter.original_topic == topics.RAW
            assert letter.original_key == key.decode()
        dlq_total = p.runtime.metrics.registry.get_sample_value("enrich_dlq_records_total")
        assert dlq_total is not None and dlq_total >= 4
        assert (
            await p.scalar(
                "SELECT count(*) FROM articles WHERE article_id = :id", id=nul.article_id
            )
            == 0
        )
        # The failed end state: stored (NUL-free) with its reason, then dead-lettered.
        assert (
            await p.scalar(
                "SELECT reason || '/' || stage FROM article_failures WHERE article_id = :id",
                id=nul.article_id,
            )
            == "db-rejected/database"
        )
        failures_total = p.runtime.metrics.registry.get_sample_value(
            "newsflow_enrich_failures_total", {"reason": "db-rejected"}
        )
        assert failures_total == 1
        assert {decode(DeadLetterEvent, r.value).reason for r in dead} >= {
            "schema-invalid",
            "record-too-large",
            "db-rejected",
        }


async def test_real_nlp_in_a_worker_process_gives_offsets_into_the_stored_body(
    kafka_bootstrap: str, database_url: str, sample_text: str
) -> None:
    settings = Settings()
    pool = ProcessPoolRunner(settings.nlp_config(), workers=1)
    event = raw_event(sample_text, title="Kherson")
    try:
        async with running_pipeline(kafka_bootstrap, database_url, pool) as p:
            tp, offset = await produce_raw(kafka_bootstrap, event)
            await p.wait_article(event.article_id)
            await p.wait_committed_past(tp, offset)
            transport = httpx.ASGITransport(app=p.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://enrich") as client:
                body = (await client.get(f"/v1/articles/{event.article_id}")).json()
        assert len(body["entities"]) >= 10
        for e in body["entities"]:
            for m in e["mentions"]:
                assert body["body"][m["start"] : m["end"]] == m["text"]
        assert body["models"]
    finally:
        await pool.close()


@pytest.mark.fault
async def test_postgres_down_commits_nothing_and_processing_resumes(
    kafka_bootstrap: str, database_url: str, keyword_nlp: AnalysisRunner, infra: Infra
) -> None:
    async with running_pipeline(kafka_bootstrap, database_url, keyword_nlp) as p:
        first = raw_event(BODY)
        tp, offset = await produce_raw(kafka_bootstrap, first)
        await p.wait_committed_past(tp, offset)
        before = await p.committed()
        failures = p.runtime.metrics.transient_failures

        def failed_batches() -> float:
            return sum(
                s.value
                for metric in failures.collect()
                for s in metric.samples
                if s.name.endswith("_total")
            )

        base = failed_batches()
        await asyncio.to_thread(infra.stop_postgres)
        try:
            second = raw_event("Mykola Lysenko wrote from Kharkiv again.")
            tp2, offset2 = await produce_raw(kafka_bootstrap, second)

            async def retried_twice() -> bool:
                return failed_batches() >= base + 2

            await wait_for(retried_twice, "the consumer to fail and retry the batch twice")
            after = await p.committed()
            assert after.get(tp2, -1) == before.get(tp2, -1)
            assert after.get(tp2, -1) <= offset2
        finally:
            await asyncio.to_thread(infra.start_postgres)
        await p.wait_article(second.article_id)
        await p.wait_committed_past(tp2, offset2)
        await p.wait_published(second.article_id)
        assert len(await enriched_events_for(kafka_bootstrap, second.article_id)) == 1


# --- the store on its own: the guards the consumer's hash pre-check usually hides --------


async def test_store_batch_is_idempotent_within_and_across_batches(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        enricher = KeywordEnricher()
        first = raw_event(BODY)
        [analysis] = enricher.enrich([Document(key="1", body=BODY)])

        def item(raw: ArticleRawEvent, body: str | None = None) -> EnrichedArticle:
            [a] = enricher.enrich([Document(key="x", body=body)]) if body else [analysis]
            return enrich_article(raw, a, enriched_at=datetime.now(UTC), source="/test")

        # The same raw event twice in one batch: written once, one outbox row.
        result = await store_batch(engine, [item(first), item(first)])
        assert (len(result.written), len(result.unchanged)) == (1, 1)
        # Again in a later batch (a new enriched event id, same content): nothing changes.
        result = await store_batch(engine, [item(first)])
        assert (len(result.written), len(result.unchanged)) == (0, 1)

        async def count(sql: str) -> int:
            async with engine.connect() as conn:
                return int(await conn.scalar(text(sql), {"id": first.article_id}) or 0)

        assert await count("SELECT count(*) FROM outbox WHERE article_id = :id") == 1
        assert await count("SELECT count(*) FROM article_entities WHERE article_id = :id") == 5

        # Newer content replaces the entities and adds an outbox row; an older version
        # replayed afterwards (a redelivery after a crash) does not overwrite it.
        newer_body = "Ivan Sirko spoke in Lviv."
        newer = raw_event(newer_body, article_id=first.article_id)
        result = await store_batch(engine, [item(newer, newer_body), item(first)])
        assert result.written == [first.article_id]
        assert result.unchanged == [first.article_id]
        assert await count("SELECT count(*) FROM outbox WHERE article_id = :id") == 2
        assert await count("SELECT count(*) FROM article_entities WHERE article_id = :id") == 3
        assert await count("SELECT count(*) FROM quotes WHERE article_id = :id") == 0
        assert await count("SELECT version FROM articles WHERE article_id = :id") == 2
    finally:
        await engine.dispose()


async def test_a_successful_write_ends_only_that_articles_failed_state(
    database_url: str,
) -> None:
    engine = create_async_engine(database_url)
    try:
        enricher = KeywordEnricher()
        redriven, still_failed = raw_event(BODY), raw_event(BODY)

        def failure(raw: ArticleRawEvent) -> Failure:
            ref = RecordRef(topics.RAW, 0, 0, str(raw.article_id).encode(), encode(raw))
            return Failure(ref, "nlp-budget", "nlp", "took too long", attempts=3, raw=raw)

        await record_failures(engine, [failure(redriven), failure(still_failed)])
        [analysis] = enricher.enrich([Document(key="1", body=BODY)])
        item = enrich_article(redriven, analysis, enriched_at=datetime.now(UTC), source="/test")
        result = await store_batch(engine, [item])
        assert result.written == [redriven.article_id]
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT article_id FROM article_failures WHERE article_id = ANY(:ids)"),
                {"ids": [redriven.article_id, still_failed.article_id]},
            )
            assert [r.article_id for r in rows] == [still_failed.article_id]
    finally:
        await engine.dispose()


class BoomEnricher(KeywordEnricher):
    """Raises on any batch holding a document that says "boom"."""

    def enrich(self, docs: Sequence[Document]) -> list[Analysis]:
        if any("boom" in d.body for d in docs):
            raise ValueError("the model choked on boom")
        return super().enrich(docs)


async def test_an_article_the_nlp_fails_on_is_dead_lettered_and_its_batch_mates_stored(
    kafka_bootstrap: str, database_url: str
) -> None:
    key = uuid.uuid4().hex.encode()
    bad = raw_event("Then boom went the Kharkiv station.")
    fine = raw_event("Oksana Zabuzhko wrote in Kyiv.")
    async with running_pipeline(kafka_bootstrap, database_url, InlineRunner(BoomEnricher())) as p:
        sent = await produce(kafka_bootstrap, [(key, encode(bad), []), (key, encode(fine), [])])
        tp, bad_offset, _, fine_offset = sent
        assert isinstance(tp, TopicPartition)
        assert isinstance(bad_offset, int) and isinstance(fine_offset, int)
        await p.wait_article(fine.article_id)
        await p.wait_committed_past(tp, fine_offset)
        assert (
            await p.scalar(
                "SELECT count(*) FROM articles WHERE article_id = :id", id=bad.article_id
            )
            == 0
        )
        dead = [
            r
            for r in await read_topic(kafka_bootstrap, topics.DLQ)
            if decode(DeadLetterEvent, r.value).consumer_group == p.settings.group_id
            and header_map(r.headers)["dlq_original_offset"] == str(bad_offset)
            and header_map(r.headers)["dlq_original_partition"] == str(tp.partition)
        ]
        assert len(dead) == 1
        letter = decode(DeadLetterEvent, dead[0].value)
        assert letter.error_class == "ValueError"
        assert letter.error_message == "the model choked on boom"
        assert (letter.reason, letter.stage, letter.attempts) == ("nlp-error", "nlp", 3)
        assert (
            await p.scalar(
                "SELECT reason || '/' || attempts FROM article_failures WHERE article_id = :id",
                id=bad.article_id,
            )
            == "nlp-error/3"
        )


async def test_two_relays_publish_every_outbox_row_exactly_once(
    kafka_bootstrap: str, database_url: str
) -> None:
    engine = create_async_engine(database_url)
    enricher = KeywordEnricher()
    raws = [raw_event(f"Report {i} from Mariupol by Olha Kobylianska.") for i in range(24)]
    items = [
        enrich_article(r, a, enriched_at=datetime.now(UTC), source="/test")
        for r, a in zip(
            raws, enricher.enrich([Document(key="x", body=r.body) for r in raws]), strict=True
        )
    ]
    producers = [
        make_producer(Settings(kafka_bootstrap_servers=kafka_bootstrap), role=f"r{i}")
        for i in range(2)
    ]
    try:
        await store_batch(engine, items)
        for producer in producers:
            await producer.start()

        async def drain(producer: AIOKafkaProducer) -> int:
            total = 0
            while sent := await relay_once(engine, producer, limit=3):
                total += sent
            return total

        published = await asyncio.gather(*(drain(p) for p in producers))
        async with engine.connect() as conn:
            pending = await conn.scalar(
                text(
                    "SELECT count(*) FROM outbox"
                    " WHERE article_id = ANY(:ids) AND published_at IS NULL"
                ),
                {"ids": [r.article_id for r in raws]},
            )
        assert pending == 0
        assert sum(published) >= len(raws)
        keys = {str(r.article_id).encode() for r in raws}
        records = [r for r in await read_topic(kafka_bootstrap, topics.ENRICHED) if r.key in keys]
        assert sorted(r.key for r in records) == sorted(keys)
    finally:
        for producer in producers:
            await producer.stop()
        await engine.dispose()


async def test_two_consumers_in_one_group_share_the_work_without_duplicates(
    kafka_bootstrap: str, database_url: str, keyword_nlp: AnalysisRunner
) -> None:
    group = f"enrich-test-shared-{uuid.uuid4().hex[:8]}"
    first = [raw_event(f"Dispatch {i}: Lesya Ukrainka in Chernihiv.") for i in range(6)]
    second = [raw_event(f"Update {i}: Ivan Franko in Lviv.") for i in range(6)]
    async with running_pipeline(kafka_bootstrap, database_url, keyword_nlp, group_id=group) as a:
        for event in first:
            await produce_raw(kafka_bootstrap, event)
        # A second replica joins: the group rebalances while records are in flight.
        async with running_pipeline(
            kafka_bootstrap, database_url, keyword_nlp, group_id=group
        ) as b:
            last: dict[TopicPartition, int] = {}
            for event in second:
                tp, offset = await produce_raw(kafka_bootstrap, event)
                last[tp] = max(offset, last.get(tp, -1))
            for event in first + second:
                await a.wait_article(event.article_id)
            for tp, offset in last.items():
                await a.wait_committed_past(tp, offset)
            for event in first + second:
                await b.wait_published(event.article_id)
            a_consumer, b_consumer = a.runtime.consumer, b.runtime.consumer
            assert a_consumer is not None and b_consumer is not None
            assert a_consumer.assigned.isdisjoint(b_consumer.assigned)
            assert len(a_consumer.assigned | b_consumer.assigned) == DEFAULT_PARTITIONS
        for event in first + second:
            rows = await a.scalar(
                "SELECT count(*) FROM outbox WHERE article_id = :id", id=event.article_id
            )
            assert rows == 1
    keys = {str(e.article_id).encode() for e in first + second}
    records = [r for r in await read_topic(kafka_bootstrap, topics.ENRICHED) if r.key in keys]
    assert sorted(r.key for r in records) == sorted(keys)


async def test_article_list_pages_by_keyset_and_filters_by_entity_label_and_stance(
    database_url: str,
) -> None:
    # A name no other test uses: KeywordEnricher makes every capitalised word an entity.
    unique = "Zz" + "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:10])
    raws = [raw_event(f"{unique} visited Poltava, day {i}.") for i in range(5)]
    enricher = KeywordEnricher()
    items = [
        enrich_article(r, a, enriched_at=datetime.now(UTC), source="/test")
        for r, a in zip(
            raws, enricher.enrich([Document(key="x", body=r.body) for r in raws]), strict=True
        )
    ]
    settings = Settings(database_url=database_url, consumer_enabled=False, relay_enabled=False)
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        await store_batch(app.state.runtime.engine, items)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://enrich") as client:
            seen: list[str] = []
            cursor: str | None = None
            pages = 0
            while True:
                params: dict[str, str | int] = {"entity": unique.upper(), "limit": 2}
                if cursor:
                    params["cursor"] = cursor
                page = (await client.get("/v1/articles", params=params)).json()
                seen += [item["article_id"] for item in page["items"]]
                pages += 1
                cursor = page["next_cursor"]
                if cursor is None:
                    break
                assert pages < 10
            assert pages == 3
            assert sorted(seen) == sorted(str(r.article_id) for r in raws)
            assert len(set(seen)) == 5

            def ids(response: httpx.Response) -> set[str]:
                assert response.status_code == 200, response.text
                return {item["article_id"] for item in response.json()["items"]}

            # The stance KeywordEnricher gives: the article, neutral, toward its first entity.
            assert (
                len(
                    ids(
                        await client.get(
                            "/v1/articles", params={"entity": unique, "stance": "neutral"}
                        )
                    )
                )
                == 5
            )
            assert (
                ids(
                    await client.get("/v1/articles", params={"entity": unique, "stance": "against"})
                )
                == set()
            )
            assert (
                len(
                    ids(
                        await client.get(
                            "/v1/articles", params={"entity": unique, "label": "person"}
                        )
                    )
                )
                == 5
            )
            assert (
                ids(await client.get("/v1/articles", params={"entity": unique, "label": "ORG"}))
                == set()
            )
            future = "2999-01-01T00:00:00Z"
            assert (
                ids(await client.get("/v1/articles", params={"entity": unique, "since": future}))
                == set()
            )

            entities = (await client.get("/v1/entities", params={"q": unique.lower()})).json()
            assert entities["items"] == [{"name": unique, "label": "PERSON", "article_count": 5}]


async def test_a_row_the_broker_refuses_is_set_aside_and_the_rest_is_published(
    kafka_bootstrap: str, database_url: str
) -> None:
    engine = create_async_engine(database_url)
    enricher = KeywordEnricher()
    # The second event is over what the producer may send (its title alone is 200,000
    # characters): the broker would refuse it for good.
    raws = [
        raw_event(
            f"Dispatch {i} from Kherson by Lesya Ukrainka.", title="T" * 200_000 if i == 1 else "T"
        )
        for i in range(4)
    ]
    items = [
        enrich_article(r, a, enriched_at=datetime.now(UTC), source="/test")
        for r, a in zip(
            raws, enricher.enrich([Document(key="x", body=r.body) for r in raws]), strict=True
        )
    ]
    assert len(items[1].message.payload) > 200_000
    settings = Settings(kafka_bootstrap_servers=kafka_bootstrap, max_event_bytes=20_000)
    producer = make_producer(settings, role="refused")
    try:
        await store_batch(engine, items)
        await producer.start()
        while await relay_once(engine, producer, limit=10):
            pass
        async with engine.connect() as conn:
            rows = {
                row.article_id: row
                for row in await conn.execute(
                    text(
                        "SELECT article_id, published_at, failed_at, failure FROM outbox"
                        " WHERE article_id = ANY(:ids)"
                    ),
                    {"ids": [r.article_id for r in raws]},
                )
            }
        refused = rows[raws[1].article_id]
        assert refused.published_at is None and refused.failed_at is not None
        assert "MessageSizeTooLarge" in refused.failure
        for r in (raws[0], raws[2], raws[3]):
            assert rows[r.article_id].published_at is not None
            assert rows[r.article_id].failed_at is None
        keys = {str(r.article_id).encode(): r for r in (raws[0], raws[2], raws[3])}
        records = [r for r in await read_topic(kafka_bootstrap, topics.ENRICHED) if r.key in keys]
        assert sorted(r.key for r in records) == sorted(keys)
        # The headers went out exactly as the outbox stored them.
        sent = {i.message.key.encode(): i.message.headers for i in items}
        for record in records:
            assert tuple(record.headers) == sent[record.key]
    finally:
        await producer.stop()
        await engine.dispose()


class _OutOfStep(AIOKafkaProducer):
    """A producer the broker takes no more records from: after a broker restart with a
    batch in flight, an idempotent producer answered every send this way for good."""

    async def send(self, *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        failed.set_exception(OutOfOrderSequenceNumber())
        return failed


async def test_the_relay_replaces_a_producer_the_broker_takes_no_more_records_from(
    kafka_bootstrap: str, database_url: str
) -> None:
    engine = create_async_engine(database_url)
    raw = raw_event("Dispatch from Kherson by Lesya Ukrainka.")
    [analysis] = KeywordEnricher().enrich([Document(key="x", body=raw.body)])
    item = enrich_article(raw, analysis, enriched_at=datetime.now(UTC), source="/test")
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        retry_backoff_initial_s=0.1,
        retry_backoff_max_s=0.2,
        relay_poll_interval_s=0.2,
    )
    made: list[AIOKafkaProducer] = []

    def factory(s: Settings, role: str) -> AIOKafkaProducer:
        producer = (
            make_producer(s, role=role)
            if made
            else _OutOfStep(bootstrap_servers=s.kafka_bootstrap_servers, enable_idempotence=True)
        )
        made.append(producer)
        return producer

    relay = OutboxRelay(settings, engine, Metrics(), factory)
    task = asyncio.create_task(relay.run())
    try:
        await store_batch(engine, [item])

        async def published() -> bool:
            async with engine.connect() as conn:
                at = await conn.scalar(
                    text("SELECT published_at FROM outbox WHERE article_id = :id"),
                    {"id": raw.article_id},
                )
            return at is not None

        await wait_for(published, "the outbox row published by a fresh producer")
        assert isinstance(made[0], _OutOfStep) and len(made) == 2
        assert relay.producer.renewals == 1
        keys = [r.key for r in await read_topic(kafka_bootstrap, topics.ENRICHED)]
        assert keys.count(str(raw.article_id).encode()) == 1
    finally:
        await relay.stop(task)
        await engine.dispose()
