"""Event models: round-trips, strictness, CloudEvents headers, checked-in JSON Schemas."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from newsflow_schema import (
    ArticleEnrichedEvent,
    ArticleRawEvent,
    DeadLetterEvent,
    DecodeError,
    Entity,
    HeaderError,
    Mention,
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
    topics,
)
from newsflow_schema import jsonschema as export

pytestmark = pytest.mark.unit

HASH = content_hash("Title", "Body")


def raw(**overrides: object) -> ArticleRawEvent:
    fields: dict[str, object] = {
        "article_id": uuid.uuid4(),
        "title": "Title",
        "body": "Body",
        "url": "https://e.com/a",
        "published_at": datetime(2022, 9, 13, tzinfo=UTC),
        "authors": ("A. Writer",),
        "tags": ("war",),
        "content_hash": HASH,
        "original": OriginalContent(format="text", content="Title\nBody"),
    }
    fields.update(overrides)
    return ArticleRawEvent.model_validate(fields)


def enriched() -> ArticleEnrichedEvent:
    return ArticleEnrichedEvent(
        article_id=uuid.uuid4(),
        raw_event_id=uuid.uuid4(),
        content_hash=HASH,
        entities=(
            Entity(
                name="Kherson",
                label="GPE",
                mentions=(Mention(start=0, end=7, text="Kherson"),),
                mention_count=1,
                salience=0.5,
            ),
        ),
        quotes=(
            Quote(text="We will win", span=Span(start=10, end=21), speaker="Humeniuk", cue="said"),
        ),
        stances=(
            Stance(
                holder="Humeniuk",
                holder_type="speaker",
                target="Kherson",
                label="favor",
                score=0.7,
                evidence=(Span(start=10, end=21),),
            ),
        ),
        tone=Tone(tone=-1.5, positive=2.0, negative=3.5, polarity=5.5),
    )


@pytest.mark.parametrize("event", [raw(), enriched()], ids=["raw", "enriched"])
def test_round_trip(event: ArticleRawEvent | ArticleEnrichedEvent) -> None:
    assert decode(type(event), encode(event)) == event


def test_dead_letter_round_trip() -> None:
    event = DeadLetterEvent(
        original_topic=topics.RAW,
        original_partition=2,
        original_offset=41,
        original_value_b64="bm90IGpzb24=",
        original_value_size=8,
        error_class="JSONDecodeError",
        error_message="Expecting value",
    )
    assert decode(DeadLetterEvent, encode(event)) == event


def test_events_are_frozen() -> None:
    event = raw()
    with pytest.raises(ValidationError):
        event.title = "other"  # type: ignore[misc]


def test_every_event_has_version_id_and_utc_time() -> None:
    a, b = raw(), raw()
    assert a.schema_version == 1
    assert a.event_id != b.event_id
    assert a.occurred_at.tzinfo is not None
    assert a.occurred_at.utcoffset() == timedelta(0)


def test_times_are_normalised_to_utc() -> None:
    kyiv = timezone(timedelta(hours=3))
    event = raw(published_at=datetime(2022, 9, 13, 12, 0, tzinfo=kyiv))
    assert event.published_at == datetime(2022, 9, 13, 9, 0, tzinfo=UTC)
    assert event.published_at is not None and event.published_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("published_at", datetime(2022, 9, 13)),  # noqa: DTZ001 - naive on purpose
        ("body", ""),
        ("content_hash", "not-a-hash"),
        ("schema_version", 2),
        ("article_id", "not-a-uuid"),
        ("unknown_field", "x"),
    ],
)
def test_rejects_bad_values(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as info:
        raw(**{field: value})
    assert field in str(info.value)


def test_span_end_before_start_is_rejected() -> None:
    with pytest.raises(ValidationError, match="before its start"):
        Span(start=5, end=2)


def test_stance_label_and_score_are_bounded() -> None:
    with pytest.raises(ValidationError):
        Stance(holder="a", holder_type="speaker", target="b", label="support", score=0.5)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Stance(holder="a", holder_type="speaker", target="b", label="favor", score=1.5)


@pytest.mark.parametrize("value", [b"\xff\xfe", b"not json", b'{"article_id": 1}', None])
def test_decode_errors_name_the_problem(value: bytes | None) -> None:
    with pytest.raises(DecodeError) as info:
        decode(ArticleRawEvent, value)
    assert info.value.error_class
    assert str(info.value)


def test_cloudevents_headers_round_trip() -> None:
    event = raw()
    trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    headers = encode_headers(
        event, source="/newsflow/ingest", subject=str(event.article_id), traceparent=trace
    )
    names = [name for name, _ in headers]
    for required in ("ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time", "content-type"):
        assert required in names
    attrs = decode_headers(headers)
    assert attrs.id == str(event.event_id)
    assert attrs.type == ArticleRawEvent.EVENT_TYPE
    assert attrs.source == "/newsflow/ingest"
    assert attrs.time == event.occurred_at
    assert attrs.subject == str(event.article_id)
    assert attrs.traceparent == trace
    assert attrs.content_type == "application/json"


def test_invalid_traceparent_is_not_propagated() -> None:
    headers = encode_headers(raw(), source="s", traceparent="00-zz-bad-01")
    assert "traceparent" not in [name for name, _ in headers]


def test_missing_cloudevents_header_is_an_error() -> None:
    headers = [h for h in encode_headers(raw(), source="s") if h[0] != "ce_id"]
    with pytest.raises(HeaderError, match="ce_id"):
        decode_headers(headers)


def test_checked_in_json_schemas_match_the_models() -> None:
    for name, model in export.FILES.items():
        path = export.SCHEMA_DIR / name
        assert path.exists(), f"{path} missing: run `make schemas`"
        assert path.read_text() == export.render(model), f"{path} is stale: run `make schemas`"


def test_schema_files_cover_every_topic() -> None:
    assert {name.removesuffix(".json") for name in export.FILES} == set(topics.ALL)


def test_drift_is_detected(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    assert export.main(["--dir", str(tmp_path)]) == 0
    assert export.main(["--check", "--dir", str(tmp_path)]) == 0
    victim = tmp_path / f"{topics.RAW}.json"
    victim.write_text(victim.read_text().replace('"body"', '"text"', 1))
    assert export.main(["--check", "--dir", str(tmp_path)]) == 1
