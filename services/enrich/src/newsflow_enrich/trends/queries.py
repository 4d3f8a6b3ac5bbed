"""Trend queries over the rollups: top entities with their series, stances over time, speakers."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

LABELS = ("favor", "against", "neutral")


@dataclass(frozen=True, slots=True)
class Point:
    bucket: datetime
    value: int


@dataclass(frozen=True, slots=True)
class EntitySeries:
    name: str
    label: str
    mentions: int
    articles: int
    points: tuple[Point, ...]


@dataclass(slots=True)
class HolderStances:
    """One holder's stances toward a target: totals per label and a series per label."""

    holder: str
    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    points: dict[str, list[Point]] = field(default_factory=lambda: {k: [] for k in LABELS})


@dataclass(frozen=True, slots=True)
class Cell:
    favor: int
    against: int
    neutral: int
    mean_score: float


@dataclass(frozen=True, slots=True)
class StanceMatrix:
    holders: tuple[str, ...]
    targets: tuple[str, ...]
    cells: dict[tuple[str, str], Cell]


# An entity is busy in a bucket when at least this many articles of the bucket mention it;
# a partial index holds the busy rows. Must match the predicate of ix_entity_trends_busy.
BUSY_ARTICLES = {"hour": 4, "day": 16}

# Ranking by articles, then mentions. Exact and fast on a long tail: the candidates are the
# entities busy in some bucket of the window (the partial index), their totals are summed
# with one index range each. Every other entity was in fewer than BUSY_ARTICLES articles of
# each bucket, so when the last of the top `limit` candidates has more than
# (BUSY_ARTICLES - 1) x buckets articles, nobody outside the candidates can rank; otherwise
# (a small or quiet window) every row of the window is read. Grain and threshold are
# literals, so the planner can prove the partial index applies.
_RANK_BUSY = {
    grain: text(f"""
    WITH candidates AS (
        SELECT DISTINCT b.entity_id FROM entity_trends b
        WHERE b.grain = '{grain}' AND b.articles >= {busy}
          AND b.bucket >= :since AND b.bucket < :until
    )
    SELECT c.entity_id, x.articles, x.mentions
    FROM candidates c
    CROSS JOIN LATERAL (
        SELECT sum(t.articles) AS articles, sum(t.mentions) AS mentions
        FROM entity_trends t
        WHERE t.grain = '{grain}' AND t.entity_id = c.entity_id
          AND t.bucket >= :since AND t.bucket < :until
    ) x
    WHERE CAST(:label AS text) IS NULL
       OR c.entity_id IN (SELECT entity_id FROM entities WHERE label = :label)
    ORDER BY x.articles DESC, x.mentions DESC, c.entity_id
    LIMIT :limit
    """)
    for grain, busy in BUSY_ARTICLES.items()
}
_RANK_ALL = text("""
    SELECT t.entity_id, sum(t.articles) AS articles, sum(t.mentions) AS mentions
    FROM entity_trends t
    WHERE t.grain = :grain AND t.bucket >= :since AND t.bucket < :until
      AND (CAST(:label AS text) IS NULL
           OR t.entity_id IN (SELECT entity_id FROM entities WHERE label = :label))
    GROUP BY t.entity_id
    ORDER BY articles DESC, mentions DESC, t.entity_id
    LIMIT :limit
""")
_SERIES = text("""
SELECT e.entity_id, e.name, e.label, s.bucket, s.mentions
FROM entities e
JOIN entity_trends s ON s.grain = :grain AND s.entity_id = e.entity_id
     AND s.bucket >= :since AND s.bucket < :until
WHERE e.entity_id = ANY(:ids)
ORDER BY s.bucket
""")
_STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1)}

_STANCES_TOWARD = text("""
SELECT holder, label, bucket, stances
FROM stance_trends
WHERE grain = :grain AND target = :target AND bucket >= :since AND bucket < :until
ORDER BY holder, bucket
""")

# The matrix's targets are the window's top entities (ranked as above, so a long tail of
# rarely named targets is never aggregated); its holders the busiest toward those targets.
_MATRIX = text("""
WITH pairs AS (
    SELECT holder, target, label, sum(stances) AS n, sum(score_sum) AS total
    FROM stance_trends
    WHERE grain = 'day' AND target = ANY(:targets) AND bucket >= :since AND bucket < :until
    GROUP BY holder, target, label
), holders AS (
    SELECT holder FROM pairs GROUP BY holder ORDER BY sum(n) DESC, holder LIMIT :holders
)
SELECT p.holder, p.target, p.label, p.n, p.total
FROM pairs p JOIN holders USING (holder)
""")

_SPEAKERS = text("""
SELECT speaker, sum(quotes) AS quotes
FROM speaker_trends
WHERE grain = 'day' AND bucket >= :since AND bucket < :until
GROUP BY speaker ORDER BY quotes DESC, speaker LIMIT :limit
""")


async def top_entities(
    conn: AsyncConnection,
    *,
    since: datetime,
    until: datetime,
    grain: str,
    label: str | None = None,
    limit: int = 10,
) -> list[EntitySeries]:
    """The `limit` entities in most articles in [since, until), each with its series."""
    params = {"grain": grain, "since": since, "until": until, "label": label, "limit": limit}
    ranked = (await conn.execute(_RANK_BUSY[grain], params)).all()
    buckets = max(1, math.ceil((until - since) / _STEP[grain]))
    if len(ranked) < limit or ranked[-1].articles <= (BUSY_ARTICLES[grain] - 1) * buckets:
        ranked = (await conn.execute(_RANK_ALL, params)).all()
    if not ranked:
        return []
    points: dict[int, list[Point]] = defaultdict(list)
    names: dict[int, tuple[str, str]] = {}
    ids = [row.entity_id for row in ranked]
    for row in await conn.execute(_SERIES, {**params, "ids": ids}):
        names[row.entity_id] = (row.name, row.label)
        points[row.entity_id].append(Point(row.bucket, int(row.mentions)))
    return [
        EntitySeries(
            name=names[row.entity_id][0],
            label=names[row.entity_id][1],
            mentions=int(row.mentions),
            articles=int(row.articles),
            points=tuple(points[row.entity_id]),
        )
        for row in ranked
    ]


async def stances_toward(
    conn: AsyncConnection, *, target: str, since: datetime, until: datetime, grain: str
) -> list[HolderStances]:
    """Every holder's favor/against/neutral toward `target`, most stances first."""
    holders: dict[str, HolderStances] = {}
    rows = await conn.execute(
        _STANCES_TOWARD, {"grain": grain, "target": target, "since": since, "until": until}
    )
    for row in rows:
        entry = holders.setdefault(row.holder, HolderStances(row.holder))
        entry.totals[row.label] += int(row.stances)
        entry.points[row.label].append(Point(row.bucket, int(row.stances)))
    return sorted(holders.values(), key=lambda h: (-sum(h.totals.values()), h.holder))


async def stance_matrix(
    conn: AsyncConnection,
    *,
    since: datetime,
    until: datetime,
    holders: int = 8,
    targets: int = 8,
) -> StanceMatrix:
    """The busiest holders × targets, with counts per label and the mean score per cell."""
    top = await top_entities(conn, since=since, until=until, grain="day", limit=targets)
    rows = await conn.execute(
        _MATRIX,
        {"since": since, "until": until, "holders": holders, "targets": [t.name for t in top]},
    )
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(LABELS, 0))
    totals: dict[tuple[str, str], float] = defaultdict(float)
    load_h: dict[str, int] = defaultdict(int)
    load_t: dict[str, int] = defaultdict(int)
    for row in rows:
        key = (row.holder, row.target)
        counts[key][row.label] += int(row.n)
        totals[key] += float(row.total)
        load_h[row.holder] += int(row.n)
        load_t[row.target] += int(row.n)
    cells = {
        key: Cell(
            favor=c["favor"],
            against=c["against"],
            neutral=c["neutral"],
            mean_score=round(totals[key] / max(1, sum(c.values())), 4),
        )
        for key, c in counts.items()
    }
    return StanceMatrix(
        holders=tuple(sorted(load_h, key=lambda h: (-load_h[h], h))),
        targets=tuple(sorted(load_t, key=lambda t: (-load_t[t], t))),
        cells=cells,
    )


async def top_speakers(
    conn: AsyncConnection, *, since: datetime, until: datetime, limit: int = 10
) -> list[tuple[str, int]]:
    rows = await conn.execute(_SPEAKERS, {"since": since, "until": until, "limit": limit})
    return [(row.speaker, int(row.quotes)) for row in rows]
