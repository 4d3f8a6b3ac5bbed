"""Trend queries over the rollups: top entities with their series, stances over time, speakers."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, text
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


# Ranking by articles, then mentions, exact without reading the whole window (the threshold
# algorithm of Fagin, Lotem and Naor). Sorted access: the `depth` busiest rows of each bucket
# of the window, one short index range per bucket. An entity not among them in bucket b has
# at most m_b articles there, m_b being the depth-th row's (0 when the bucket has fewer rows:
# all of them were read). So an entity never read has at most sum(m_b) in the window, and
# one read in some buckets at most sum(m_b) plus, over those buckets, what it has above m_b;
# what was read of it is a lower bound. Entities whose upper bound is below the limit-th
# largest lower bound cannot rank and are dropped; the others get exact totals, each from
# its own index range. When the limit-th of those has more than sum(m_b), no entity never
# read can rank either and the answer is exact; otherwise the depth grows, and after a few
# rounds (a window of many near-equal counts) every row of the window is summed.
_RANK_DEPTH = {
    has_label: text(f"""
    WITH top AS (
        SELECT b.bucket, r.entity_id, r.articles
        FROM unnest(CAST(:buckets AS timestamptz[])) AS b(bucket)
        CROSS JOIN LATERAL (
            SELECT t.entity_id, t.articles FROM entity_trends t
            WHERE t.grain = :grain AND t.bucket = b.bucket{label}
            ORDER BY t.articles DESC, t.entity_id
            LIMIT :depth
        ) r
    ), floors AS (
        SELECT bucket, CASE WHEN count(*) = :depth THEN min(articles) ELSE 0 END AS m
        FROM top GROUP BY bucket
    ), seen AS (
        SELECT t.entity_id, sum(t.articles) AS low, sum(t.articles - f.m) AS above
        FROM top t JOIN floors f USING (bucket)
        GROUP BY t.entity_id
    ), bound AS (
        SELECT sum(m) AS unseen,
               coalesce((SELECT low FROM seen ORDER BY low DESC OFFSET :limit - 1 LIMIT 1), 0)
                   AS low
        FROM floors
    )
    SELECT s.entity_id, x.articles, x.mentions, bound.unseen AS bound
    FROM seen s
    CROSS JOIN bound
    CROSS JOIN LATERAL (
        SELECT sum(t.articles) AS articles, sum(t.mentions) AS mentions
        FROM entity_trends t
        WHERE t.grain = :grain AND t.entity_id = s.entity_id
          AND t.bucket >= :since AND t.bucket < :until
    ) x
    WHERE bound.unseen + s.above >= bound.low
    ORDER BY x.articles DESC, x.mentions DESC, s.entity_id
    LIMIT :limit
    """)
    for has_label, label in ((False, ""), (True, " AND t.label = :label"))
}
# Rounds of sorted access before summing the whole window, and the first depth per limit.
RANK_ROUNDS = 3
FIRST_DEPTH = 2
_RANK_ALL = text("""
    SELECT t.entity_id, sum(t.articles) AS articles, sum(t.mentions) AS mentions
    FROM entity_trends t
    WHERE t.grain = :grain AND t.bucket >= :since AND t.bucket < :until
      AND (CAST(:label AS text) IS NULL OR t.label = :label)
    GROUP BY t.entity_id
    ORDER BY articles DESC, mentions DESC, t.entity_id
    LIMIT :limit
""")
# A series comes back as two arrays, one row per entity: the driver decodes arrays at C
# speed, where a row per point cost more than the queries themselves.
_SERIES = text("""
SELECT e.entity_id, e.name, e.label, s.buckets, s.counts
FROM entities e
CROSS JOIN LATERAL (
    SELECT array_agg(t.bucket ORDER BY t.bucket) AS buckets,
           array_agg(t.mentions ORDER BY t.bucket) AS counts
    FROM entity_trends t
    WHERE t.grain = :grain AND t.entity_id = e.entity_id
      AND t.bucket >= :since AND t.bucket < :until
) s
WHERE e.entity_id = ANY(:ids)
""")
_STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1)}

# The window is a parameter, and the driver prepares each statement once per connection: from
# the sixth call on, PostgreSQL may switch to a generic plan, which guesses that a range over
# parameters holds a row or two and nests loops over whole windows (the stances query went
# from 60 to 250 ms). Each query is planned with its own window instead (about 1 ms).
_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")

# The `limit` holders with most stances toward the target, then their series: the ranking
# sums the target's window from one covering index, the series read the top holders' rows.
_STANCES_TOWARD = text("""
WITH top AS (
    SELECT holder, sum(stances) AS n
    FROM stance_trends
    WHERE grain = :grain AND target = :target AND bucket >= :since AND bucket < :until
    GROUP BY holder
    ORDER BY n DESC, holder
    LIMIT :limit
)
SELECT top.holder, s.label, array_agg(s.bucket ORDER BY s.bucket) AS buckets,
       array_agg(s.stances ORDER BY s.bucket) AS counts
FROM top
JOIN stance_trends s ON s.grain = :grain AND s.target = :target AND s.holder = top.holder
     AND s.bucket >= :since AND s.bucket < :until
GROUP BY top.n, top.holder, s.label
ORDER BY top.n DESC, top.holder
""")

# The matrix's targets are the window's top entities (ranked as above, so a long tail of
# rarely named targets is never aggregated); its holders the busiest toward those targets.
_MATRIX = text("""
WITH holders AS (
    SELECT holder
    FROM stance_trends
    WHERE grain = 'day' AND target = ANY(:targets) AND bucket >= :since AND bucket < :until
    GROUP BY holder
    ORDER BY sum(stances) DESC, holder
    LIMIT :holders
)
SELECT s.holder, s.target, s.label, sum(s.stances) AS n, sum(s.score_sum) AS total
FROM holders h
JOIN stance_trends s ON s.grain = 'day' AND s.target = ANY(:targets) AND s.holder = h.holder
     AND s.bucket >= :since AND s.bucket < :until
GROUP BY s.holder, s.target, s.label
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
    await conn.execute(_CUSTOM_PLANS)
    params = {"grain": grain, "since": since, "until": until, "label": label, "limit": limit}
    ranked = await _rank_entities(conn, params, buckets(since, until, grain))
    if not ranked:
        return []
    series = {
        row.entity_id: row
        for row in await conn.execute(_SERIES, {**params, "ids": [r.entity_id for r in ranked]})
    }
    return [
        EntitySeries(
            name=series[row.entity_id].name,
            label=series[row.entity_id].label,
            mentions=int(row.mentions),
            articles=int(row.articles),
            points=tuple(map(Point, series[row.entity_id].buckets, series[row.entity_id].counts)),
        )
        for row in ranked
    ]


async def _rank_entities(
    conn: AsyncConnection, params: dict[str, Any], window: list[datetime]
) -> Sequence[Row[Any]]:
    limit: int = params["limit"]
    statement = _RANK_DEPTH[params["label"] is not None]
    depth = FIRST_DEPTH * limit
    for _ in range(RANK_ROUNDS):
        round_params = {**params, "buckets": window, "depth": depth}
        ranked = (await conn.execute(statement, round_params)).all()
        # No candidate: the window has no rows. A bound of 0: every row was read.
        if not ranked or ranked[0].bound == 0:
            return ranked
        if len(ranked) == limit and ranked[-1].articles > ranked[0].bound:
            return ranked
        depth *= 2
    return (await conn.execute(_RANK_ALL, params)).all()


def buckets(since: datetime, until: datetime, grain: str) -> list[datetime]:
    """The buckets of a grain that start in [since, until), in UTC as the rollups keep them."""
    step = _STEP[grain]
    first = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if grain == "day":
        first = first.replace(hour=0)
    if first < since:
        first += step
    return [first + i * step for i in range(max(0, math.ceil((until - first) / step)))]


async def stances_toward(
    conn: AsyncConnection,
    *,
    target: str,
    since: datetime,
    until: datetime,
    grain: str,
    limit: int = 20,
) -> list[HolderStances]:
    """The `limit` holders with most stances toward `target`: favor/against/neutral each."""
    await conn.execute(_CUSTOM_PLANS)
    holders: dict[str, HolderStances] = {}
    rows = await conn.execute(
        _STANCES_TOWARD,
        {"grain": grain, "target": target, "since": since, "until": until, "limit": limit},
    )
    for row in rows:
        entry = holders.setdefault(row.holder, HolderStances(row.holder))
        entry.totals[row.label] = sum(row.counts)
        entry.points[row.label] = list(map(Point, row.buckets, row.counts))
    return list(holders.values())


async def stance_matrix(
    conn: AsyncConnection,
    *,
    since: datetime,
    until: datetime,
    holders: int = 8,
    targets: int = 8,
) -> StanceMatrix:
    """The busiest holders × targets, with counts per label and the mean score per cell."""
    await conn.execute(_CUSTOM_PLANS)
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
    await conn.execute(_CUSTOM_PLANS)
    rows = await conn.execute(_SPEAKERS, {"since": since, "until": until, "limit": limit})
    return [(row.speaker, int(row.quotes)) for row in rows]
