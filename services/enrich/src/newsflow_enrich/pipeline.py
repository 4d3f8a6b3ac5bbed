"""Pure enrichment steps: raw event + analysis → enriched event, outbox message, dead letters."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from newsflow_enrich.nlp import Analysis, Document
from newsflow_schema import (
    ArticleEnrichedEvent,
    ArticleRawEvent,
    DeadLetterEvent,
    Entity,
    Mention,
    encode,
    encode_headers,
    topics,
)

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One record to publish, exactly as it will go on the wire."""

    event_id: uuid.UUID
    article_id: uuid.UUID
    topic: str
    key: str
    payload: bytes
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class EnrichedArticle:
    """What one batch writes for one article: the raw event, its analysis, its outbox row."""

    raw: ArticleRawEvent
    event: ArticleEnrichedEvent
    message: OutboxMessage


@dataclass(frozen=True, slots=True)
class RecordRef:
    """Where a consumed record came from, for dead letters and offsets."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """What the store holds of an article: enough to tell a redelivery from new work."""

    content_hash: str
    raw_event_id: uuid.UUID


def needs_enrichment(raw: ArticleRawEvent, stored: StoredVersion | None) -> bool:
    """False for a redelivery: same content, or (for a replay) the very same replay event."""
    if stored is None:
        return True
    if raw.reprocess:
        return stored.raw_event_id != raw.event_id
    return stored.content_hash != raw.content_hash


class OversizedRecordError(ValueError):
    """A record value larger than the configured maximum."""


def document_for(raw: ArticleRawEvent) -> Document:
    return Document(key=str(raw.article_id), body=raw.body, title=raw.title, language=raw.language)


def check_size(ref: RecordRef, max_bytes: int) -> None:
    size = len(ref.value or b"")
    if size > max_bytes:
        raise OversizedRecordError(
            f"record value is {size} bytes, more than the {max_bytes} bytes enrich accepts"
        )


def merge_entities(entities: Iterable[Entity]) -> tuple[Entity, ...]:
    """One entity per (name, label): the store keys mentions on that pair."""
    merged: dict[tuple[str, str], Entity] = {}
    for entity in entities:
        key = (entity.name, entity.label)
        seen = merged.get(key)
        if seen is None:
            merged[key] = entity
            continue
        mentions = _unique_mentions((*seen.mentions, *entity.mentions))
        merged[key] = Entity(
            name=entity.name,
            label=entity.label,
            mentions=mentions,
            mention_count=seen.mention_count + entity.mention_count,
            salience=min(1.0, seen.salience + entity.salience),
        )
    return tuple(merged.values())


def _unique_mentions(mentions: Iterable[Mention]) -> tuple[Mention, ...]:
    seen: dict[tuple[int, int], Mention] = {}
    for mention in mentions:
        seen.setdefault((mention.start, mention.end), mention)
    return tuple(sorted(seen.values(), key=lambda m: (m.start, m.end)))


def enriched_event(
    raw: ArticleRawEvent, analysis: Analysis, *, enriched_at: datetime
) -> ArticleEnrichedEvent:
    return ArticleEnrichedEvent(
        article_id=raw.article_id,
        raw_event_id=raw.event_id,
        url=raw.url,
        source=raw.source,
        title=raw.title,
        published_at=raw.published_at,
        language=analysis.language or raw.language,
        content_hash=raw.content_hash,
        entities=merge_entities(analysis.entities),
        quotes=analysis.quotes,
        stances=analysis.stances,
        tone=analysis.tone,
        models=analysis.models,
        occurred_at=enriched_at,
        enriched_at=enriched_at,
    )


def outbox_message(
    event: ArticleEnrichedEvent, *, source: str, traceparent: str | None = None
) -> OutboxMessage:
    headers = encode_headers(
        event, source=source, subject=str(event.article_id), traceparent=traceparent
    )
    return OutboxMessage(
        event_id=event.event_id,
        article_id=event.article_id,
        topic=topics.ENRICHED,
        key=str(event.article_id),
        payload=encode(event),
        headers=tuple((name, value.decode()) for name, value in headers),
    )


def enrich_article(
    raw: ArticleRawEvent,
    analysis: Analysis,
    *,
    enriched_at: datetime,
    source: str,
    traceparent: str | None = None,
) -> EnrichedArticle:
    event = enriched_event(raw, analysis, enriched_at=enriched_at)
    return EnrichedArticle(
        raw=raw,
        event=event,
        message=outbox_message(event, source=source, traceparent=traceparent),
    )


def dead_letter(
    ref: RecordRef,
    error: Exception,
    *,
    consumer_group: str | None,
    value_max_bytes: int,
    source: str,
) -> tuple[bytes, Headers]:
    """The DLQ record for a poison record: value (DeadLetterEvent) and headers."""
    value = ref.value or b""
    error_class = getattr(error, "error_class", None) or type(error).__name__
    message = str(error)[:4000]
    event = DeadLetterEvent(
        original_topic=ref.topic,
        original_partition=ref.partition,
        original_offset=ref.offset,
        original_key=ref.key.decode("utf-8", "replace") if ref.key is not None else None,
        original_value_b64=base64.b64encode(value[:value_max_bytes]).decode("ascii"),
        original_value_size=len(value),
        original_value_truncated=len(value) > value_max_bytes,
        error_class=error_class,
        error_message=message,
        consumer_group=consumer_group,
    )
    # Header values are for humans and tools such as kcat: keep them to one short line.
    short = " ".join(message.split())[:1000]
    headers = encode_headers(
        event,
        source=source,
        extra=(
            ("dlq_original_topic", ref.topic),
            ("dlq_original_partition", str(ref.partition)),
            ("dlq_original_offset", str(ref.offset)),
            ("dlq_error_class", error_class),
            ("dlq_error_message", short),
        ),
    )
    return encode(event), headers


def traceparent_of(headers: Sequence[tuple[str, bytes]]) -> str | None:
    for name, value in headers:
        if name == "traceparent":
            return value.decode("utf-8", "replace")
    return None
