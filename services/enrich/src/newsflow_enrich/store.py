"""PostgreSQL reads of the API: article and entity queries, the pagination cursor codec."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from newsflow_enrich.db.models import article_entities, articles, entities, quotes, stances

# --- reads ---------------------------------------------------------------------------


class CursorError(ValueError):
    """A pagination cursor this service did not issue."""


def encode_cursor(received_at: datetime, article_id: uuid.UUID) -> str:
    raw = json.dumps([received_at.isoformat(), str(article_id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        when, ident = json.loads(base64.urlsafe_b64decode(padded.encode()))
        parsed = datetime.fromisoformat(when)
        key = uuid.UUID(ident)
    except (ValueError, TypeError) as exc:
        raise CursorError("cursor is not one this API returned; start again without it") from exc
    if parsed.tzinfo is None:
        raise CursorError("cursor is not one this API returned; start again without it")
    return parsed, key


async def get_article(engine: AsyncEngine, article_id: uuid.UUID) -> dict[str, Any] | None:
    """The article with its entities, quotes and stances, or None when not stored."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(select(articles).where(articles.c.article_id == article_id))
        ).first()
        if row is None:
            return None
        article = dict(row._mapping)
        ents = await conn.execute(
            select(
                entities.c.name,
                entities.c.label,
                article_entities.c.mention_count,
                article_entities.c.salience,
                article_entities.c.mentions,
            )
            .join(entities, entities.c.entity_id == article_entities.c.entity_id)
            .where(article_entities.c.article_id == article_id)
            .order_by(article_entities.c.salience.desc(), entities.c.name)
        )
        article["entities"] = [dict(r._mapping) for r in ents]
        qs = await conn.execute(
            select(quotes).where(quotes.c.article_id == article_id).order_by(quotes.c.ordinal)
        )
        article["quotes"] = [dict(r._mapping) for r in qs]
        ss = await conn.execute(
            select(stances).where(stances.c.article_id == article_id).order_by(stances.c.ordinal)
        )
        article["stances"] = [dict(r._mapping) for r in ss]
        return article


async def list_articles(
    engine: AsyncEngine,
    *,
    entity: str | None,
    label: str | None,
    stance: str | None = None,
    since: datetime | None,
    limit: int,
    cursor: tuple[datetime, uuid.UUID] | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Articles newest first (by received_at), keyset-paginated; the next cursor or None."""
    query = select(
        articles.c.article_id,
        articles.c.status,
        articles.c.title,
        articles.c.url,
        articles.c.source,
        articles.c.language,
        articles.c.published_at,
        articles.c.received_at,
        articles.c.enriched_at,
    )
    if entity is not None or label is not None:
        conds = [article_entities.c.article_id == articles.c.article_id]
        if entity is not None:
            conds.append(func.lower(entities.c.name) == entity.lower())
        if label is not None:
            conds.append(entities.c.label == label.upper())
        query = query.where(
            exists(
                select(1)
                .select_from(
                    article_entities.join(
                        entities, entities.c.entity_id == article_entities.c.entity_id
                    )
                )
                .where(*conds)
            )
        )
    if stance is not None:
        stance_conds = [stances.c.article_id == articles.c.article_id, stances.c.label == stance]
        if entity is not None:
            stance_conds.append(func.lower(stances.c.target) == entity.lower())
        query = query.where(exists(select(1).select_from(stances).where(*stance_conds)))
    if since is not None:
        query = query.where(articles.c.received_at >= since)
    if cursor is not None:
        when, key = cursor
        query = query.where(
            or_(
                articles.c.received_at < when,
                and_(articles.c.received_at == when, articles.c.article_id < key),
            )
        )
    query = query.order_by(articles.c.received_at.desc(), articles.c.article_id.desc()).limit(
        limit + 1
    )
    async with engine.connect() as conn:
        rows = [dict(r._mapping) for r in await conn.execute(query)]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(last["received_at"], last["article_id"])
    return rows, next_cursor


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_entities(
    engine: AsyncEngine, *, q: str | None, label: str | None, limit: int
) -> list[dict[str, Any]]:
    """Entities whose name contains `q` (case-insensitive), most-mentioned-in first."""
    count = func.count(article_entities.c.article_id).label("article_count")
    query = (
        select(entities.c.name, entities.c.label, count)
        .select_from(
            entities.join(article_entities, article_entities.c.entity_id == entities.c.entity_id)
        )
        .group_by(entities.c.entity_id, entities.c.name, entities.c.label)
        .order_by(count.desc(), entities.c.name, entities.c.label)
        .limit(limit)
    )
    if q:
        query = query.where(entities.c.name.ilike(f"%{_like_escape(q)}%", escape="\\"))
    if label:
        query = query.where(entities.c.label == label.upper())
    async with engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(query)]
