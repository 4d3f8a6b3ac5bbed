"""PostgreSQL writes of enrich: one transaction per batch, idempotent upserts, outbox, failures."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from newsflow_enrich.db.models import (
    article_entities,
    articles,
    entities,
    failures,
    outbox,
    quotes,
    stances,
)
from newsflow_enrich.dedup import index as dedup_index
from newsflow_enrich.dedup.fingerprint import MinHasher
from newsflow_enrich.errors import INFRASTRUCTURE, translate
from newsflow_enrich.faults import CrashPoints
from newsflow_enrich.pipeline import (
    EnrichedArticle,
    Failure,
    OutboxMessage,
    StoredVersion,
    Versions,
    WriteResult,
    placed,
)
from newsflow_enrich.trends import rollup
from newsflow_schema import ArticleRawEvent


@functools.cache
def default_hasher() -> MinHasher:
    """The default fingerprint configuration, built on first use (nothing at import time).

    Band keys are only comparable under one shingle size, permutations and bands: every
    writer of a deployment uses the same one (the consumer builds it from settings).
    """
    return MinHasher()


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


async def store_batch(
    engine: AsyncEngine, items: Sequence[EnrichedArticle], hasher: MinHasher | None = None
) -> WriteResult:
    """Write a batch in one transaction; a redelivered (same content) article changes nothing."""
    result = WriteResult()
    if not items:
        return result
    placer = hasher or default_hasher()
    async with engine.begin() as conn:
        for item in items:
            if await _store_one(conn, item, placer):
                result.written.append(item.raw.article_id)
            else:
                result.unchanged.append(item.raw.article_id)
        if result.written:
            # A successful write ends the article's failed state (failure rows are not
            # keyed to articles: a failed article may have no row there).
            await conn.execute(delete(failures).where(failures.c.article_id.in_(result.written)))
    return result


def _article_values(item: EnrichedArticle) -> dict[str, Any]:
    raw, event = item.raw, item.event
    tone = event.tone
    return {
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


@functools.cache
def _upsert_statement(columns: tuple[str, ...], reprocess: bool) -> Any:
    """The article upsert for rows of `columns`, built once (building one costs more than
    executing it: every `excluded` column is a new proxy)."""
    stmt = insert(articles)
    updated: dict[str, Any] = {k: stmt.excluded[k] for k in columns if k != "article_id"}
    updated["version"] = articles.c.version + 1
    updated["updated_at"] = func.now()
    changed = articles.c.content_hash != stmt.excluded.content_hash
    if reprocess:
        # A replay re-enriches unchanged content once: its redelivery finds its own
        # event id stored and changes nothing.
        changed = or_(changed, articles.c.raw_event_id != stmt.excluded.raw_event_id)
    return stmt.on_conflict_do_update(
        index_elements=[articles.c.article_id],
        set_=updated,
        # Same content: a redelivery, nothing to do. Older content (an earlier version
        # replayed after a crash) must not overwrite a newer one.
        where=and_(changed, articles.c.received_at <= stmt.excluded.received_at),
    ).returning(articles.c.version)


async def _upsert_article(conn: AsyncConnection, item: EnrichedArticle) -> int | None:
    """Insert or update the article row: its version, None when the stored one is as new."""
    values = _article_values(item)
    upsert = _upsert_statement(tuple(values), item.raw.reprocess)
    row = (await conn.execute(upsert, values)).first()
    return None if row is None else int(row.version)


async def _store_one(conn: AsyncConnection, item: EnrichedArticle, hasher: MinHasher) -> bool:
    article_id = item.raw.article_id
    # Read before the upsert moves it: the stored version counts in the trends at this time.
    counted_at = await rollup.stored_at(conn, article_id)
    version = await _upsert_article(conn, item)
    if version is None:
        return False
    if counted_at is not None:
        await rollup.retract(conn, article_id, counted_at)
    # Version 1 was inserted by this transaction: rows that reference it cannot exist yet
    # (the foreign keys cascade from articles), so only a later version clears them.
    replacing = version > 1
    for table in (article_entities, quotes, stances) if replacing else ():
        await conn.execute(delete(table).where(table.c.article_id == article_id))
    await _insert_entities(conn, item)
    await _insert_quotes_and_stances(conn, item)
    await rollup.add(conn, article_id)
    cluster = await dedup_index.assign(
        conn, hasher, article_id, item.raw.body, item.raw.received_at, replacing=replacing
    )
    message = placed(
        item, version=version, cluster_id=cluster.cluster_id, duplicate_of=cluster.duplicate_of
    )
    await _insert_outbox(conn, message)
    return True


async def _insert_entities(conn: AsyncConnection, item: EnrichedArticle) -> None:
    event, article_id = item.event, item.raw.article_id
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


async def _insert_quotes_and_stances(conn: AsyncConnection, item: EnrichedArticle) -> None:
    event, article_id = item.event, item.raw.article_id
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


async def _insert_outbox(conn: AsyncConnection, message: OutboxMessage) -> None:
    await conn.execute(
        insert(outbox)
        .values(
            event_id=message.event_id,
            article_id=message.article_id,
            topic=message.topic,
            key=message.key,
            payload=message.payload,
            header_names=[name for name, _ in message.headers],
            header_values=[value for _, value in message.headers],
        )
        .on_conflict_do_nothing(index_elements=[outbox.c.event_id])
    )


async def _entity_ids(
    conn: AsyncConnection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    # Sorted, so concurrent replicas take the unique-index locks in one order: no deadlock.
    unique = sorted(set(keys))
    # One statement executed per row (executemany): compiled once, where a multi-row
    # VALUES is compiled again for every row count.
    await conn.execute(
        insert(entities).on_conflict_do_nothing(index_elements=[entities.c.name, entities.c.label]),
        [{"name": n, "label": lb} for n, lb in unique],
    )
    rows = await conn.execute(
        select(entities.c.entity_id, entities.c.name, entities.c.label).where(
            tuple_(entities.c.name, entities.c.label).in_(unique)
        )
    )
    return {(row.name, row.label): row.entity_id for row in rows}


async def outbox_backlog(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        value = await conn.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        )
        return int(value or 0)


# Failure rows hold only text PostgreSQL accepts (no NUL) and bounded.
_DETAIL_MAX = 4000
_FIELD_MAX = 2000


def _clean(value: str | None, limit: int = _FIELD_MAX) -> str | None:
    return None if value is None else value.replace("\x00", "")[:limit]


def _failure_values(failure: Failure) -> dict[str, Any] | None:
    article_id = failure.article_id
    if article_id is None:
        # Not even an article id to file it under: the dead letter alone records it.
        return None
    raw = failure.raw
    return {
        "article_id": article_id,
        "reason": failure.reason,
        "stage": failure.stage,
        "detail": _clean(failure.detail, _DETAIL_MAX) or failure.reason,
        "attempts": failure.attempts,
        "raw_event_id": raw.event_id if raw else None,
        "source_topic": failure.ref.topic,
        "source_partition": failure.ref.partition,
        "source_offset": failure.ref.offset,
        "title": _clean(raw.title) if raw else None,
        "url": _clean(raw.url) if raw else None,
        "received_at": raw.received_at if raw else None,
    }


async def record_failures(engine: AsyncEngine, found: Sequence[Failure]) -> None:
    """Store failed end states (one row per article, the latest failure wins), one transaction."""
    rows = [v for v in map(_failure_values, found) if v is not None]
    if not rows:
        return
    async with engine.begin() as conn:
        for row in rows:
            stmt = insert(failures).values(**row)
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[failures.c.article_id],
                    set_={k: stmt.excluded[k] for k in row if k != "article_id"}
                    | {"failed_at": func.now()},
                )
            )


async def failed_events(
    engine: AsyncEngine, event_ids: Iterable[uuid.UUID]
) -> frozenset[uuid.UUID]:
    """The raw event ids among these already stored as failed."""
    wanted = list(set(event_ids))
    if not wanted:
        return frozenset()
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(failures.c.raw_event_id).where(failures.c.raw_event_id.in_(wanted))
        )
        return frozenset(row.raw_event_id for row in rows)


class PgStore:
    """The batch handler's store: PostgreSQL errors become outages or refusals, nothing else."""

    def __init__(
        self,
        engine: AsyncEngine,
        crash: CrashPoints | None = None,
        hasher: MinHasher | None = None,
    ) -> None:
        self._engine = engine
        self._crash = crash
        self._hasher = hasher or default_hasher()

    async def versions(self, raws: Sequence[ArticleRawEvent]) -> Versions:
        try:
            stored = await known_versions(self._engine, (r.article_id for r in raws))
            failed = await failed_events(self._engine, (r.event_id for r in raws))
        except INFRASTRUCTURE as exc:
            raise translate(exc) from exc
        return Versions(stored=stored, failed=failed)

    async def write(self, items: Sequence[EnrichedArticle]) -> WriteResult:
        if items and self._crash is not None:
            self._crash.reached("before-db-commit")
        try:
            return await store_batch(self._engine, items, self._hasher)
        except INFRASTRUCTURE as exc:
            raise translate(exc) from exc

    async def fail(self, found: Sequence[Failure]) -> None:
        try:
            await record_failures(self._engine, found)
        except INFRASTRUCTURE as exc:
            raise translate(exc) from exc
