"""Keeping the trend rollups true, inside the transaction that writes an article.

The write path calls `retract` with the stored version's time before it replaces that
version's entities, stances and quotes, and `add` after it wrote the new ones: the rollups
change by exactly what the article contributes, in the same transaction, so a crash or a
redelivery can never count an article twice. An article counts at its `published_at`, or
when it was received if it has none.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

GRAINS = ("hour", "day")
_GRAINS = "(VALUES ('hour'), ('day')) AS g(grain)"
_AT = "coalesce(a.published_at, a.received_at)"

_ADD_ENTITIES = text(f"""
INSERT INTO entity_trends (grain, bucket, entity_id, label, mentions, articles)
SELECT g.grain, date_trunc(g.grain, {_AT}, 'UTC'), ae.entity_id, e.label, ae.mention_count, 1
FROM article_entities ae JOIN articles a USING (article_id) JOIN entities e USING (entity_id)
CROSS JOIN {_GRAINS}
WHERE ae.article_id = :article_id
ON CONFLICT (grain, bucket, entity_id) DO UPDATE
SET mentions = entity_trends.mentions + EXCLUDED.mentions,
    articles = entity_trends.articles + EXCLUDED.articles
""")
_ADD_STANCES = text(f"""
INSERT INTO stance_trends (grain, bucket, target, holder, label, stances, score_sum)
SELECT g.grain, date_trunc(g.grain, {_AT}, 'UTC'), s.target, s.holder, s.label,
       count(*), sum(s.score)
FROM stances s JOIN articles a USING (article_id) CROSS JOIN {_GRAINS}
WHERE s.article_id = :article_id
GROUP BY 1, 2, 3, 4, 5
ON CONFLICT (grain, bucket, target, holder, label) DO UPDATE
SET stances = stance_trends.stances + EXCLUDED.stances,
    score_sum = stance_trends.score_sum + EXCLUDED.score_sum
""")
_ADD_SPEAKERS = text(f"""
INSERT INTO speaker_trends (grain, bucket, speaker, quotes)
SELECT g.grain, date_trunc(g.grain, {_AT}, 'UTC'), coalesce(q.speaker_entity, q.speaker),
       count(*)
FROM quotes q JOIN articles a USING (article_id) CROSS JOIN {_GRAINS}
WHERE q.article_id = :article_id AND coalesce(q.speaker_entity, q.speaker) IS NOT NULL
GROUP BY 1, 2, 3
ON CONFLICT (grain, bucket, speaker) DO UPDATE
SET quotes = speaker_trends.quotes + EXCLUDED.quotes
""")

_RETRACT_ENTITIES = text(f"""
UPDATE entity_trends t
SET mentions = t.mentions - ae.mention_count, articles = t.articles - 1
FROM article_entities ae CROSS JOIN {_GRAINS}
WHERE ae.article_id = :article_id AND t.grain = g.grain
  AND t.bucket = date_trunc(g.grain, :at, 'UTC') AND t.entity_id = ae.entity_id
""")
_RETRACT_STANCES = text(f"""
UPDATE stance_trends t
SET stances = t.stances - s.n, score_sum = t.score_sum - s.total
FROM (SELECT target, holder, label, count(*) AS n, sum(score) AS total
      FROM stances WHERE article_id = :article_id GROUP BY 1, 2, 3) s
CROSS JOIN {_GRAINS}
WHERE t.grain = g.grain AND t.bucket = date_trunc(g.grain, :at, 'UTC')
  AND t.target = s.target AND t.holder = s.holder AND t.label = s.label
""")
_RETRACT_SPEAKERS = text(f"""
UPDATE speaker_trends t
SET quotes = t.quotes - q.n
FROM (SELECT coalesce(speaker_entity, speaker) AS speaker, count(*) AS n
      FROM quotes WHERE article_id = :article_id
        AND coalesce(speaker_entity, speaker) IS NOT NULL GROUP BY 1) q
CROSS JOIN {_GRAINS}
WHERE t.grain = g.grain AND t.bucket = date_trunc(g.grain, :at, 'UTC') AND t.speaker = q.speaker
""")
# Buckets an article left empty are dropped, so "nothing" is stored as no row.
_PRUNE = tuple(
    text(f"DELETE FROM {table} WHERE {column} <= 0 AND bucket IN "
         "(date_trunc('hour', :at, 'UTC'), date_trunc('day', :at, 'UTC'))")
    for table, column in (
        ("entity_trends", "articles"),
        ("stance_trends", "stances"),
        ("speaker_trends", "quotes"),
    )
)  # fmt: skip

_STORED_AT = text(
    "SELECT coalesce(published_at, received_at) FROM articles WHERE article_id = :article_id"
)


async def stored_at(conn: AsyncConnection, article_id: uuid.UUID) -> datetime | None:
    """When the stored version of the article counts (None: not stored yet)."""
    return (await conn.execute(_STORED_AT, {"article_id": article_id})).scalar_one_or_none()


async def retract(conn: AsyncConnection, article_id: uuid.UUID, at: datetime) -> None:
    """Take the stored version's entities, stances and quotes, counted at `at`, back out."""
    params = {"article_id": article_id, "at": at}
    for statement in (_RETRACT_ENTITIES, _RETRACT_STANCES, _RETRACT_SPEAKERS, *_PRUNE):
        await conn.execute(statement, params)


async def add(conn: AsyncConnection, article_id: uuid.UUID) -> None:
    """Count the article's entities, stances and quotes as stored now."""
    params = {"article_id": article_id}
    for statement in (_ADD_ENTITIES, _ADD_STANCES, _ADD_SPEAKERS):
        await conn.execute(statement, params)
