"""PostgreSQL writes of enrich: one transaction per batch, idempotent upserts, outbox rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from newsflow_enrich.db.models import (
    article_entities,
    articles,
    entities,
    outbox,
    quotes,
    stances,
)
from newsflow_enrich.pipeline import EnrichedArticle, StoredVersion


@dataclass(slots=True)
class BatchResult:
    written: list[uuid.UUID] = field(default_factory=list)
    unchanged: list[uuid.UUID] = field(default_factory=list)


async def known_versions(
    engine: AsyncEngine, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, StoredVersion]:
    """Stored content hash and raw event id of these articles, to skip NLP for redeliveries."""
    wanted = list(set(ids))
    if not wanted:
        return {}
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(articles.c.article_id, articles.c.content_hash, articles.c.raw_event_id).where(
                articles.c.article_id.in_(wanted)
            )
        )
        return {row.article_id: StoredVersion(row.content_hash, row.raw_event_id) for row in rows}


async def store_batch(engine: AsyncEngine, items: Sequence[EnrichedArticle]) -> BatchResult:
    """Write a batch in one transaction; a redelivered (same content) article changes nothing."""
    result = BatchResult()
    if not items:
        return result
    async with engine.begin() as conn:
        for item in items:
            if await _store_one(conn, item):
                result.written.append(item.raw.article_id)
            else:
                result.unchanged.append(item.raw.article_id)
    return result


async def _store_one(conn: AsyncConnection, item: EnrichedArticle) -> bool:
    raw, event = item.raw, item.event
    tone = event.tone
    values: dict[str, Any] = {
        "article_id": raw.article_id,
        "url": raw.url,
        "canonical_url": raw.canonical_url,
        "source": raw.source,
        "title": raw.title,
        "body": raw.body,
        "published_at": raw.published_at,
        "language": event.language,
        "content_hash": raw.content_hash,
        "authors": list(raw.authors),
        "tags": list(raw.tags),
        "original_format": raw.original.format,
        "raw_event_id": raw.event_id,
        "enriched_event_id": event.event_id,
        "status": "enriched",
        "received_at": raw.received_at,
        "enriched_at": event.enriched_at,
        "tone": tone.tone if tone else None,
        "tone_positive": tone.positive if tone else None,
        "tone_negative": tone.negative if tone else None,
        "tone_polarity": tone.polarity if tone else None,
        "models": [m.model_dump(mode="json") for m in event.models],
    }
    stmt = insert(articles).values(**values)
    updated: dict[str, Any] = {k: stmt.excluded[k] for k in values if k != "article_id"}
    updated["version"] = articles.c.version + 1
    updated["updated_at"] = func.now()
    changed = articles.c.content_hash != stmt.excluded.content_hash
    if raw.reprocess:
        # A replay re-enriches unchanged content once: its redelivery finds its own
        # event id stored and changes nothing.
        changed = or_(changed, articles.c.raw_event_id != stmt.excluded.raw_event_id)
    upsert = stmt.on_conflict_do_update(
        index_elements=[articles.c.article_id],
        set_=updated,
        # Same content: a redelivery, nothing to do. Older content (an earlier version
        # replayed after a crash) must not overwrite a newer one.
        where=and_(changed, articles.c.received_at <= stmt.excluded.received_at),
    ).returning(articles.c.article_id)
    if (await conn.execute(upsert)).first() is None:
        return False

    article_id = raw.article_id
    for table in (article_entities, quotes, stances):
        await conn.execute(delete(table).where(table.c.article_id == article_id))

    if event.entities:
        ids = await _entity_ids(conn, [(e.name, e.label) for e in event.entities])
        await conn.execute(
            insert(article_entities),
            [
                {
                    "article_id": article_id,
                    "entity_id": ids[(e.name, e.label)],
                    "mention_count": e.mention_count,
                    "salience": e.salience,
                    "mentions": [m.model_dump(mode="json") for m in e.mentions],
                }
                for e in event.entities
            ],
        )
    if event.quotes:
        await conn.execute(
            insert(quotes),
            [
                {
                    "article_id": article_id,
                    "ordinal": i,
                    "text": q.text,
                    "start_char": q.span.start,
                    "end_char": q.span.end,
                    "kind": q.kind,
                    "speaker": q.speaker,
                    "speaker_entity": q.speaker_entity,
                    "speaker_start": q.speaker_span.start if q.speaker_span else None,
                    "speaker_end": q.speaker_span.end if q.speaker_span else None,
                    "cue": q.cue,
                }
                for i, q in enumerate(event.quotes)
            ],
        )
    if event.stances:
        await conn.execute(
            insert(stances),
            [
                {
                    "article_id": article_id,
                    "ordinal": i,
                    "holder": s.holder,
                    "holder_type": s.holder_type,
                    "target": s.target,
                    "label": s.label,
                    "score": s.score,
                    "evidence": [span.model_dump(mode="json") for span in s.evidence],
                }
                for i, s in enumerate(event.stances)
            ],
        )
    message = item.message
    await conn.execute(
        insert(outbox)
        .values(
            event_id=message.event_id,
            article_id=message.article_id,
            topic=message.topic,
            key=message.key,
            payload=message.payload,
            headers=[list(h) for h in message.headers],
        )
        .on_conflict_do_nothing(index_elements=[outbox.c.event_id])
    )
    return True


async def _entity_ids(
    conn: AsyncConnection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    # Sorted, so concurrent replicas take the unique-index locks in one order: no deadlock.
    unique = sorted(set(keys))
    await conn.execute(
        insert(entities)
        .values([{"name": n, "label": lb} for n, lb in unique])
        .on_conflict_do_nothing(index_elements=[entities.c.name, entities.c.label])
    )
    rows = await conn.execute(
        select(entities.c.entity_id, entities.c.name, entities.c.label).where(
            tuple_(entities.c.name, entities.c.label).in_(unique)
        )
    )
    return {(row.name, row.label): row.entity_id for row in rows}


def rejects_data(exc: DBAPIError) -> bool:
    """True when PostgreSQL refused the values themselves, so a retry cannot succeed.

    SQLSTATE class 22 (data exception: a NUL byte in text, a value out of range) and
    23 (integrity constraint violation). The asyncpg adapter raises these as a plain
    DBAPIError, so the class alone does not tell them from a lost connection.
    """
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return isinstance(code, str) and code[:2] in ("22", "23")


class RejectedByDatabaseError(ValueError):
    """An article whose values PostgreSQL refuses: it goes to the DLQ, not into retries."""

    def __init__(self, exc: DBAPIError) -> None:
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        # str(exc) carries the statement and its parameters (the whole body): keep the cause.
        reason = str(exc.orig).splitlines()[0] if str(exc.orig) else type(exc.orig).__name__
        super().__init__(f"PostgreSQL refused the article (SQLSTATE {code}): {reason}")
        self.error_class = "RejectedByDatabaseError"


async def outbox_backlog(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        value = await conn.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        )
        return int(value or 0)
