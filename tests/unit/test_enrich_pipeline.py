"""Unit tests of enrich's pure logic: mapping, poison classification, dead letters, cursors."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from newsflow_enrich.db.read import CursorError, decode_cursor, encode_cursor
from newsflow_enrich.nlp import Analysis, Document
from newsflow_enrich.nlp.workers import NlpFailure, analyse
from newsflow_enrich.pipeline import (
    EventLimits,
    RecordRef,
    enrich_article,
    merge_entities,
)
from newsflow_enrich.settings import Settings
from newsflow_enrich.stream.batch import decode_records
from newsflow_enrich.stream.deadletter import dead_letter
from newsflow_schema import (
    ArticleEnrichedEvent,
    ArticleRawEvent,
    DeadLetterEvent,
    Entity,
    Mention,
    ModelInfo,
    OriginalContent,
    content_hash,
    decode,
    decode_headers,
    encode,
    header_map,
    topics,
)

pytestmark = pytest.mark.unit

BODY = "Nataliya Humeniuk said Kherson was calm. Humeniuk spoke in Odesa."


def raw_event(body: str = BODY, title: str | None = "Calm in Kherson") -> ArticleRawEvent:
    return ArticleRawEvent(
        article_id=uuid.uuid4(),
        url="https://example.com/a",
        canonical_url="https://example.com/a",
        source="example",
        title=title,
        body=body,
        content_hash=content_hash(title, body),
        original=OriginalContent(format="text", content=body),
    )


def ref(value: bytes | None, offset: int = 7) -> RecordRef:
    return RecordRef(topic=topics.RAW, partition=2, offset=offset, key=b"k", value=value)


def mention(text: str, body: str = BODY) -> Mention:
    start = body.index(text)
    return Mention(start=start, end=start + len(text), text=text)


ANALYSIS = Analysis(
    language="en",
    entities=(
        Entity(
            name="Nataliya Humeniuk",
            label="PERSON",
            mentions=(mention("Nataliya Humeniuk"),),
            mention_count=1,
            salience=0.5,
        ),
        Entity(
            name="Kherson",
            label="GPE",
            mentions=(mention("Kherson"),),
            mention_count=1,
            salience=0.5,
        ),
    ),
    models=(ModelInfo(name="en_core_web_sm", version="3.8.0"),),
)


def test_enriched_event_carries_raw_fields_analysis_and_provenance() -> None:
    raw = raw_event().model_copy(update={"authors": ("Olha Kobylianska",), "tags": ("war",)})
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    item = enrich_article(raw, ANALYSIS, enriched_at=now, source="/newsflow/enrich")
    event = item.event
    assert event.article_id == raw.article_id
    assert (event.canonical_url, event.authors, event.tags) == (
        raw.canonical_url,
        ("Olha Kobylianska",),
        ("war",),
    )
    assert event.raw_event_id == raw.event_id
    assert event.content_hash == raw.content_hash
    assert event.language == "en"
    assert event.enriched_at == now
    assert event.models == ANALYSIS.models
    assert [e.name for e in event.entities] == ["Nataliya Humeniuk", "Kherson"]
    for entity in event.entities:
        for m in entity.mentions:
            assert raw.body[m.start : m.end] == m.text


def test_outbox_message_is_the_wire_record() -> None:
    raw = raw_event()
    traceparent = f"00-{'a' * 32}-{'b' * 16}-01"
    item = enrich_article(
        raw,
        ANALYSIS,
        enriched_at=datetime.now(UTC),
        source="/newsflow/enrich",
        traceparent=traceparent,
    )
    msg = item.message
    assert msg.topic == topics.ENRICHED
    assert msg.key == str(raw.article_id)
    assert decode(ArticleEnrichedEvent, msg.payload) == item.event
    assert all(isinstance(v, bytes) for _, v in msg.headers)
    attrs = decode_headers(list(msg.headers))
    assert attrs.id == str(item.event.event_id)
    assert attrs.type == ArticleEnrichedEvent.EVENT_TYPE
    assert attrs.subject == str(raw.article_id)
    assert attrs.traceparent == traceparent


def test_merge_entities_joins_duplicates_of_name_and_label() -> None:
    first = Entity(
        name="Humeniuk",
        label="PERSON",
        mentions=(mention("Humeniuk"),),
        mention_count=1,
        salience=0.25,
    )
    again = Entity(
        name="Humeniuk",
        label="PERSON",
        mentions=(mention("Humeniuk"), mention("Odesa")),
        mention_count=2,
        salience=0.25,
    )
    other = Entity(
        name="Humeniuk",
        label="ORG",
        mentions=(mention("Humeniuk"),),
        mention_count=1,
        salience=0.1,
    )
    merged = merge_entities([first, again, other])
    assert [(e.name, e.label) for e in merged] == [("Humeniuk", "PERSON"), ("Humeniuk", "ORG")]
    person = merged[0]
    assert person.mention_count == 3
    assert person.salience == pytest.approx(0.5)
    assert [m.text for m in person.mentions] == ["Humeniuk", "Odesa"]


def test_classify_separates_poison_from_good_records() -> None:
    good = raw_event()
    records = [
        ref(b"not json at all", offset=1),
        ref(json.dumps({"schema_version": 1, "body": ""}).encode(), offset=2),
        ref(b"x" * 101, offset=3),
        ref(None, offset=4),
        ref(encode(good)[:100], offset=5),
        ref(encode(good), offset=6),
    ]
    goods, poison = decode_records(records, max_bytes=len(encode(good)))
    assert [g.raw for g in goods] == [good]
    assert [p.ref.offset for p in poison] == [1, 2, 3, 4, 5]
    assert all(p.stage == "decode" and p.attempts == 1 for p in poison)
    goods, poison = decode_records([records[2]], max_bytes=100)
    assert goods == [] and poison[0].reason == "record-too-large"
    assert poison[0].error_class == "OversizedRecordError"


def test_dead_letter_names_origin_and_error_in_value_and_headers() -> None:
    record = ref(b"\xff" * 300, offset=42)
    [poison] = decode_records([record], max_bytes=10_000)[1]
    value, headers = dead_letter(poison, consumer_group="g", value_max_bytes=100, source="/enrich")
    event = decode(DeadLetterEvent, value)
    assert (event.original_topic, event.original_partition, event.original_offset) == (
        topics.RAW,
        2,
        42,
    )
    assert event.original_value_size == 300
    assert event.original_value_truncated
    assert base64.b64decode(event.original_value_b64) == b"\xff" * 100
    assert event.error_class == "UnicodeDecodeError"
    assert event.consumer_group == "g"
    assert (event.reason, event.stage, event.attempts) == ("undecodable", "decode", 1)
    found = header_map(headers)
    assert found["dlq_original_topic"] == topics.RAW
    assert found["dlq_original_partition"] == "2"
    assert found["dlq_original_offset"] == "42"
    assert found["dlq_error_class"] == "UnicodeDecodeError"
    assert "UTF-8" in found["dlq_error_message"]
    assert found["dlq_reason"] == "undecodable"
    assert found["ce_type"] == DeadLetterEvent.EVENT_TYPE


def test_cursor_round_trips_and_rejects_garbage() -> None:
    when = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    key = uuid.uuid4()
    assert decode_cursor(encode_cursor(when, key)) == (when, key)
    for bad in ("", "abc", base64.urlsafe_b64encode(b'["2026-01-01T00:00:00", "x"]').decode()):
        with pytest.raises(CursorError):
            decode_cursor(bad)


class FlakyEnricher:
    """Fails any batch holding a document whose body contains 'boom'."""

    def enrich(self, docs: Sequence[Document]) -> list[Analysis]:
        if any("boom" in d.body for d in docs):
            raise ValueError("boom in the text")
        return [Analysis(language="en") for _ in docs]


def test_analyse_isolates_the_document_that_fails() -> None:
    docs = [Document(key="1", body="fine"), Document(key="2", body="boom"), Document("3", "ok")]
    outcomes = analyse(FlakyEnricher(), docs)
    assert isinstance(outcomes[0], Analysis) and isinstance(outcomes[2], Analysis)
    assert outcomes[1] == NlpFailure("ValueError", "boom in the text")


def test_settings_read_shared_and_prefixed_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u@h:1/d")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "h:9")
    monkeypatch.setenv("ENRICH_PORT", "9001")
    monkeypatch.setenv("ENRICH_CONSUMER_ENABLED", "false")
    settings = Settings()
    assert settings.database_url == "postgresql+asyncpg://u@h:1/d"
    assert settings.kafka_bootstrap_servers == "h:9"
    assert settings.port == 9001
    assert settings.consumer_enabled is False
    assert settings.host == "127.0.0.1"


def test_entity_names_and_stored_mentions_are_capped_but_counts_stay_true() -> None:
    limits = EventLimits(max_mentions_per_entity=3, max_entity_name_chars=8)
    mentions = tuple(Mention(start=i * 10, end=i * 10 + 4, text="Kyiv") for i in range(7))
    long_name = "K" * 3000
    entities = [
        Entity(name=long_name, label="GPE", mentions=mentions, mention_count=7, salience=0.5),
        Entity(name="K" * 2000, label="GPE", mentions=(), mention_count=2, salience=0.1),
    ]
    [merged] = merge_entities(entities, limits)
    assert merged.name == "K" * 8
    assert len(merged.mentions) == 3
    assert merged.mention_count == 9
