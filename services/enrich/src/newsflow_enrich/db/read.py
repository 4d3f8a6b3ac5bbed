"""PostgreSQL reads of the API and viewer: queries, the pagination cursor codec, `ReadStore`.

Every query runs inside `reading()`, the one place where what the driver raises for an
outage becomes `DatabaseUnavailable` (503 with Retry-After), through the same
classification the write path and /readyz use.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from newsflow_enrich.db.models import (
    article_entities,
    articles,
    entities,
    failures,
    fingerprints,
    quotes,
    stances,
)
from newsflow_enrich.dedup.index import cluster_of
from newsflow_enrich.errors import classify
from newsflow_schema.http import DatabaseUnavailable

Status = Literal["enriched", "failed"]
Cursor = tuple[datetime, uuid.UUID]

CURSOR_HELP = "cursor is not one this API returned; start again without it"


class CursorError(ValueError):
    """A pagination cursor this service did not issue."""


def encode_cursor(received_at: datetime, article_id: uuid.UUID) -> str:
    raw = json.dumps([received_at.isoformat(), str(article_id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Cursor:
    """The position `encode_cursor` wrote; CursorError for anything else, whatever its shape."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error, RecursionError) as exc:
        raise CursorError(CURSOR_HELP) from exc
    # Only exactly [iso-datetime, uuid] is one of ours: nested JSON, numbers, objects are not.
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise CursorError(CURSOR_HELP)
    try:
        when = datetime.fromisoformat(value[0])
        key = uuid.UUID(value[1])
        # An offset that pushes the instant out of datetime's range is not ours either.
        when.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise CursorError(CURSOR_HELP) from exc
    if when.tzinfo is None:
        raise CursorError(CURSOR_HELP)
    return when, key


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """What is stored for one article id: its enriched version and/or its failure."""

    article: dict[str, Any] | None
    failure: dict[str, Any] | None

    @property
    def visible(self) -> bool:
        """True when it has an end state to show: failed, or enriched (not merely queued)."""
        if self.failure is not None:
            return True
        return self.article is not None and self.article["status"] == "enriched"


@dataclass(frozen=True, slots=True)
class ArticleQuery:
    """The filters and position of one page of GET /v1/articles."""

    entity: str | None = None
    label: str | None = None
    stance: str | None = None
    status: Status | None = None
    since: datetime | None = None
    # One article per near-duplicate cluster: copies of an earlier article are left out.
    dedupe: bool = False
    limit: int = 50
    cursor: Cursor | None = None


class ReadStore(Protocol):
    """The read side as the routes see it; a fake stands in for it in unit tests."""

    async def article(self, article_id: uuid.UUID) -> StoredArticle | None: ...

    async def articles(self, query: ArticleQuery) -> tuple[list[dict[str, Any]], str | None]: ...

    async def entities(
        self, *, q: str | None, label: str | None, limit: int
    ) -> list[dict[str, Any]]: ...


@asynccontextmanager
async def reading() -> AsyncIterator[None]:
    """Map an outage met while reading to DatabaseUnavailable (the one place that does)."""
    try:
        yield
    except Exception as exc:
        mapped = classify(exc)
        if isinstance(mapped, DatabaseUnavailable):
            raise mapped from exc
        raise


class PgReadStore:
    """`ReadStore` over the PostgreSQL tables of `db.models`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def article(self, article_id: uuid.UUID) -> StoredArticle | None:
        """The article (entities, quotes, stances) and its failure row; None if neither."""
        async with reading(), self._engine.connect() as conn:
            failure = (
                await conn.execute(select(failures).where(failures.c.article_id == article_id))
            ).first()
            row = (
                await conn.execute(select(articles).where(articles.c.article_id == article_id))
            ).first()
            if row is None and failure is None:
                return None
            article = None
            if row is not None:
                article = dict(row._mapping)
                for name, query in _parts(article_id).items():
                    article[name] = [dict(r._mapping) for r in await conn.execute(query)]
                article.update(await _cluster(conn, article_id))
            return StoredArticle(article, dict(failure._mapping) if failure else None)

    async def articles(self, query: ArticleQuery) -> tuple[list[dict[str, Any]], str | None]:
        """One page newest first (by received_at, then id), and the next cursor or None."""
        page = _page_query(query)
        async with reading(), self._engine.connect() as conn:
            rows = [dict(r._mapping) for r in await conn.execute(page)]
        next_cursor = None
        if len(rows) > query.limit:
            rows = rows[: query.limit]
            last = rows[-1]
            next_cursor = encode_cursor(last["received_at"], last["article_id"])
        return rows, next_cursor

    async def entities(
        self, *, q: str | None, label: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """Entities whose name contains `q` (case-insensitive), most-mentioned-in first."""
        count = func.count(article_entities.c.article_id).label("article_count")
        query = (
            select(entities.c.name, entities.c.label, count)
            .select_from(
                entities.join(
                    article_entities, article_entities.c.entity_id == entities.c.entity_id
                )
            )
            .group_by(entities.c.entity_id, entities.c.name, entities.c.label)
            .order_by(count.desc(), entities.c.name, entities.c.label)
            .limit(limit)
        )
        if q:
            query = query.where(entities.c.name.ilike(f"%{_like_escape(q)}%", escape="\\"))
        if label:
            query = query.where(entities.c.label == label.upper())
        async with reading(), self._engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(query)]


def _parts(article_id: uuid.UUID) -> dict[str, Select[Any]]:
    return {
        "entities": select(
            entities.c.name,
            entities.c.label,
            article_entities.c.mention_count,
            article_entities.c.salience,
            article_entities.c.mentions,
        )
        .join(entities, entities.c.entity_id == article_entities.c.entity_id)
        .where(article_entities.c.article_id == article_id)
        .order_by(article_entities.c.salience.desc(), entities.c.name),
        "quotes": select(quotes)
        .where(quotes.c.article_id == article_id)
        .order_by(quotes.c.ordinal),
        "stances": select(stances)
        .where(stances.c.article_id == article_id)
        .order_by(stances.c.ordinal),
    }


async def _cluster(conn: AsyncConnection, article_id: uuid.UUID) -> dict[str, Any]:
    placed = (
        await conn.execute(
            select(fingerprints.c.cluster_id, fingerprints.c.duplicate_of).where(
                fingerprints.c.article_id == article_id
            )
        )
    ).first()
    if placed is None:
        return {"cluster_id": None, "duplicate_of": None, "near_duplicates": []}
    return {
        "cluster_id": placed.cluster_id,
        "duplicate_of": placed.duplicate_of,
        "near_duplicates": await cluster_of(conn, article_id),
    }


def _content_filters(query: ArticleQuery, article_id: ColumnElement[Any]) -> list[Any]:
    """Entity, label and stance conditions on the stored enrichment of `article_id`."""
    conds: list[Any] = []
    if query.entity is not None or query.label is not None:
        inner = [article_entities.c.article_id == article_id]
        if query.entity is not None:
            inner.append(func.lower(entities.c.name) == query.entity.lower())
        if query.label is not None:
            inner.append(entities.c.label == query.label.upper())
        joined = article_entities.join(
            entities, entities.c.entity_id == article_entities.c.entity_id
        )
        conds.append(exists(select(1).select_from(joined).where(*inner)))
    if query.stance is not None:
        inner = [stances.c.article_id == article_id, stances.c.label == query.stance]
        if query.entity is not None:
            inner.append(func.lower(stances.c.target) == query.entity.lower())
        conds.append(exists(select(1).select_from(stances).where(*inner)))
    return conds


def _enriched_rows(query: ArticleQuery) -> Select[Any]:
    # An article with a failure row is failed, even when an older version stays stored.
    no_failure = ~exists(select(1).where(failures.c.article_id == articles.c.article_id))
    return select(
        articles.c.article_id,
        literal("enriched").label("status"),
        articles.c.title,
        articles.c.url,
        articles.c.source,
        articles.c.language,
        articles.c.published_at,
        articles.c.received_at,
        articles.c.enriched_at,
        null().label("reason"),
        null().label("stage"),
        null().label("failed_at"),
    ).where(
        articles.c.status == "enriched",
        no_failure,
        *_content_filters(query, articles.c.article_id),
        *_dedupe_filter(query, articles.c.article_id),
    )


def _failed_rows(query: ArticleQuery) -> Select[Any]:
    joined = failures.outerjoin(articles, articles.c.article_id == failures.c.article_id)
    # An undecodable record has no receive time of its own: it sorts by when it failed.
    received = func.coalesce(failures.c.received_at, articles.c.received_at, failures.c.failed_at)
    return (
        select(
            failures.c.article_id,
            literal("failed").label("status"),
            func.coalesce(failures.c.title, articles.c.title).label("title"),
            func.coalesce(failures.c.url, articles.c.url).label("url"),
            articles.c.source,
            articles.c.language,
            articles.c.published_at,
            received.label("received_at"),
            articles.c.enriched_at,
            failures.c.reason,
            failures.c.stage,
            failures.c.failed_at,
        )
        .select_from(joined)
        .where(
            *_content_filters(query, failures.c.article_id),
            *_dedupe_filter(query, failures.c.article_id),
        )
    )


def _dedupe_filter(query: ArticleQuery, article_id: ColumnElement[Any]) -> list[Any]:
    if not query.dedupe:
        return []
    copy = select(1).where(
        fingerprints.c.article_id == article_id, fingerprints.c.duplicate_of.is_not(None)
    )
    return [~exists(copy)]


def _page_query(query: ArticleQuery) -> Select[Any]:
    branches = []
    if query.status in (None, "enriched"):
        branches.append(_enriched_rows(query))
    if query.status in (None, "failed"):
        branches.append(_failed_rows(query))
    rows = (branches[0] if len(branches) == 1 else union_all(*branches)).subquery("listed")
    page = select(rows)
    if query.since is not None:
        page = page.where(rows.c.received_at >= query.since)
    if query.cursor is not None:
        when, key = query.cursor
        page = page.where(
            or_(
                rows.c.received_at < when,
                and_(rows.c.received_at == when, rows.c.article_id < key),
            )
        )
    return page.order_by(rows.c.received_at.desc(), rows.c.article_id.desc()).limit(query.limit + 1)


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
