"""Pure enrichment steps and their types: raw event + analysis → enriched event, outbox message."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from newsflow_enrich.nlp import Analysis, Document
from newsflow_schema import (
    ArticleEnrichedEvent,
    ArticleRawEvent,
    Entity,
    Mention,
    encode,
    encode_headers,
    topics,
)


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One record to publish, exactly as it will go on the wire."""

    event_id: uuid.UUID
    article_id: uuid.UUID
    topic: str
    key: str
    payload: bytes
    headers: tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class EnrichedArticle:
    """What one batch writes for one article: the raw event, its analysis, its outbox row."""

    raw: ArticleRawEvent
    event: ArticleEnrichedEvent
    message: OutboxMessage


@dataclass(frozen=True, slots=True)
class EventLimits:
    """Bounds that keep an enriched event publishable and its rows indexable."""

    # The relay producer's max_request_size and the topics' max.message.bytes.
    max_event_bytes: int = 1_048_576
    # Mentions stored (and published) per entity; mention_count stays the true count.
    max_mentions_per_entity: int = 100
    # Longest entity name kept: the (name, label) btree index refuses rows over ~2.7 KB.
    max_entity_name_chars: int = 512


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


@dataclass(frozen=True, slots=True)
class Failure:
    """A record's failed end state: what the failure row and the dead letter say."""

    ref: RecordRef
    reason: str
    stage: str
    detail: str
    attempts: int = 1
    raw: ArticleRawEvent | None = None
    # The exception class behind it, for the dead letter (the reason when none).
    error_class: str = ""

    @property
    def article_id(self) -> uuid.UUID | None:
        """The article it was, from the event or else the record key (an article id)."""
        if self.raw is not None:
            return self.raw.article_id
        try:
            return uuid.UUID((self.ref.key or b"").decode("ascii"))
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class Versions:
    """What the store already holds of a batch's articles."""

    stored: dict[uuid.UUID, StoredVersion] = field(default_factory=dict)
    # Raw event ids already stored as failed: their redelivery is not tried again.
    failed: frozenset[uuid.UUID] = frozenset()


@dataclass(slots=True)
class WriteResult:
    written: list[uuid.UUID] = field(default_factory=list)
    unchanged: list[uuid.UUID] = field(default_factory=list)


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


def merge_entities(
    entities: Iterable[Entity], limits: EventLimits = EventLimits()
) -> tuple[Entity, ...]:
    """One entity per (name, label), names and stored mentions capped; counts stay true."""
    merged: dict[tuple[str, str], Entity] = {}
    for found in entities:
        entity = found
        if len(found.name) > limits.max_entity_name_chars:
            entity = found.model_copy(update={"name": found.name[: limits.max_entity_name_chars]})
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
    cap = limits.max_mentions_per_entity
    return tuple(
        e if len(e.mentions) <= cap else e.model_copy(update={"mentions": e.mentions[:cap]})
        for e in merged.values()
    )


def _unique_mentions(mentions: Iterable[Mention]) -> tuple[Mention, ...]:
    seen: dict[tuple[int, int], Mention] = {}
    for mention in mentions:
        seen.setdefault((mention.start, mention.end), mention)
    return tuple(sorted(seen.values(), key=lambda m: (m.start, m.end)))


def enriched_event(
    raw: ArticleRawEvent,
    analysis: Analysis,
    *,
    enriched_at: datetime,
    limits: EventLimits = EventLimits(),
) -> ArticleEnrichedEvent:
    return ArticleEnrichedEvent(
        article_id=raw.article_id,
        raw_event_id=raw.event_id,
        url=raw.url,
        canonical_url=raw.canonical_url,
        source=raw.source,
        title=raw.title,
        authors=raw.authors,
        tags=raw.tags,
        published_at=raw.published_at,
        language=analysis.language or raw.language,
        content_hash=raw.content_hash,
        entities=merge_entities(analysis.entities, limits),
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
        headers=tuple(headers),
    )


def placed(
    item: EnrichedArticle,
    *,
    version: int,
    cluster_id: uuid.UUID,
    duplicate_of: uuid.UUID | None,
) -> OutboxMessage:
    """The outbox message once the store has placed the article: its version and cluster.

    Only the payload changes; the headers (event id, type, time, trace) stay as built.
    """
    event = item.event.model_copy(
        update={"version": version, "cluster_id": cluster_id, "duplicate_of": duplicate_of}
    )
    return dataclasses.replace(item.message, payload=encode(event))


def enrich_article(
    raw: ArticleRawEvent,
    analysis: Analysis,
    *,
    enriched_at: datetime,
    source: str,
    traceparent: str | None = None,
    limits: EventLimits = EventLimits(),
) -> EnrichedArticle:
    event = enriched_event(raw, analysis, enriched_at=enriched_at, limits=limits)
    return EnrichedArticle(
        raw=raw,
        event=event,
        message=outbox_message(event, source=source, traceparent=traceparent),
    )


def traceparent_of(headers: Sequence[tuple[str, bytes]]) -> str | None:
    for name, value in headers:
        if name == "traceparent":
            return value.decode("utf-8", "replace")
    return None
