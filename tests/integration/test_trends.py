"""Trend rollups on a real PostgreSQL, kept by the write path: counts, new versions, queries."""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from newsflow_enrich.db.migrate import upgrade
from newsflow_enrich.db.write import store_batch
from newsflow_enrich.nlp import Analysis
from newsflow_enrich.pipeline import enrich_article
from newsflow_enrich.trends.queries import (
    LABELS,
    stance_matrix,
    stances_toward,
    top_entities,
    top_speakers,
)
from newsflow_schema import (
    ArticleRawEvent,
    Entity,
    Mention,
    OriginalContent,
    Quote,
    Span,
    Stance,
    content_hash,
)
from tests.infra import create_database, drop_database

pytestmark = pytest.mark.integration

DAY = datetime(2026, 5, 4, tzinfo=UTC)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    url = await create_database(database_url, prefix="trends")
    await asyncio.to_thread(upgrade, url)
    db = create_async_engine(url)
    yield db
    await db.dispose()
    await drop_database(database_url, url)


def _entity(name: str, label: str, count: int, body: str) -> Entity:
    start = body.index(name)
    mention = Mention(start=start, end=start + len(name), text=name)
    return Entity(
        name=name, label=label, mentions=(mention,) * count, mention_count=count, salience=0.5
    )


async def _store(
    engine: AsyncEngine,
    *,
    published_at: datetime,
    entities: list[tuple[str, str, int]],
    stances: list[tuple[str, str, str, float]] = (),  # type: ignore[assignment]
    speakers: list[str] = (),  # type: ignore[assignment]
    article_id: uuid.UUID | None = None,
) -> uuid.UUID:
    names = " ".join(name for name, _, _ in entities)
    body = f"{names}. " + " ".join(f'"Quote {i}," said {s}.' for i, s in enumerate(speakers))
    raw = ArticleRawEvent(
        article_id=article_id or uuid.uuid4(),
        title="T",
        body=body,
        published_at=published_at,
        content_hash=content_hash("T", body),
        original=OriginalContent(format="text", content=body),
    )
    analysis = Analysis(
        language="en",
        entities=tuple(_entity(n, label, c, body) for n, label, c in entities),
        quotes=tuple(
            Quote(text=f"Quote {i}", span=Span(start=0, end=1), speaker=s, speaker_entity=s)
            for i, s in enumerate(speakers)
        ),
        stances=tuple(
            Stance(
                holder=h,
                holder_type="article" if h == "article" else "speaker",
                target=t,
                label=label,  # type: ignore[arg-type]
                score=score,
                evidence=(Span(start=0, end=1),),
            )
            for h, t, label, score in stances
        ),
    )
    item = enrich_article(raw, analysis, enriched_at=datetime.now(UTC), source="/test")
    result = await store_batch(engine, [item])
    assert result.written == [raw.article_id]
    return raw.article_id


async def test_top_entities_rank_by_articles_with_a_point_per_bucket(engine: AsyncEngine) -> None:
    await _store(engine, published_at=DAY, entities=[("Kherson", "GPE", 3), ("Putin", "PERSON", 1)])
    await _store(
        engine,
        published_at=DAY + timedelta(hours=5),
        entities=[("Kherson", "GPE", 2), ("Zelensky", "PERSON", 4)],
    )
    await _store(engine, published_at=DAY + timedelta(days=1), entities=[("Putin", "PERSON", 2)])
    async with engine.connect() as conn:
        daily = await top_entities(
            conn, since=DAY, until=DAY + timedelta(days=2), grain="day", limit=2
        )
        people = await top_entities(
            conn, since=DAY, until=DAY + timedelta(days=2), grain="day", label="PERSON"
        )
        hourly = await top_entities(
            conn, since=DAY, until=DAY + timedelta(days=1), grain="hour", limit=1
        )
    # Ranked by articles, then mentions: Putin's 2 articles beat Zelensky's 4 mentions in 1.
    assert [(s.name, s.mentions, s.articles) for s in daily] == [
        ("Kherson", 5, 2),
        ("Putin", 3, 2),
    ]
    assert [(p.bucket, p.value) for p in daily[0].points] == [(DAY, 5)]
    assert [s.name for s in people] == ["Putin", "Zelensky"]
    assert [(p.bucket, p.value) for p in people[0].points] == [
        (DAY, 1),
        (DAY + timedelta(days=1), 2),
    ]
    assert [(p.bucket, p.value) for p in hourly[0].points] == [
        (DAY, 3),
        (DAY + timedelta(hours=5), 2),
    ]


async def test_a_new_version_moves_its_counts_and_leaves_no_empty_rows(
    engine: AsyncEngine,
) -> None:
    article = await _store(
        engine,
        published_at=DAY,
        entities=[("Kherson", "GPE", 3)],
        stances=[("Zatulin", "Kherson", "against", -0.5)],
        speakers=["Zatulin"],
    )
    # Corrected: another day, another entity, no stance, no quote.
    await _store(
        engine,
        article_id=article,
        published_at=DAY + timedelta(days=3),
        entities=[("Kharkiv", "LOC", 1)],
    )
    async with engine.connect() as conn:
        ranked = await top_entities(conn, since=DAY, until=DAY + timedelta(days=7), grain="day")
        speakers = await top_speakers(conn, since=DAY, until=DAY + timedelta(days=7))
        leftovers = await conn.scalar(
            text(
                "SELECT (SELECT count(*) FROM entity_trends WHERE bucket < :d)"
                " + (SELECT count(*) FROM stance_trends) + (SELECT count(*) FROM speaker_trends)"
            ),
            {"d": DAY + timedelta(days=1)},
        )
    assert [(s.name, s.mentions, s.points[0].bucket) for s in ranked] == [
        ("Kharkiv", 1, DAY + timedelta(days=3))
    ]
    assert speakers == []
    assert leftovers == 0


async def test_stances_over_time_by_holder_and_the_matrix(engine: AsyncEngine) -> None:
    # The matrix's targets are the window's top entities: Kherson and Russia here.
    await _store(
        engine,
        published_at=DAY,
        entities=[("Kherson", "GPE", 1), ("Russia", "GPE", 1)],
        stances=[
            ("Stremousov", "Kherson", "favor", 0.6),
            ("article", "Kherson", "neutral", 0.0),
            ("Humeniuk", "Russia", "against", -0.4),
        ],
        speakers=["Stremousov", "Humeniuk", "Humeniuk"],
    )
    await _store(
        engine,
        published_at=DAY + timedelta(days=1),
        entities=[("Kherson", "GPE", 1)],
        stances=[("Stremousov", "Kherson", "favor", 0.8)],
        speakers=["Humeniuk"],
    )
    until = DAY + timedelta(days=2)
    async with engine.connect() as conn:
        toward = await stances_toward(conn, target="Kherson", since=DAY, until=until, grain="day")
        matrix = await stance_matrix(conn, since=DAY, until=until)
        speakers = await top_speakers(conn, since=DAY, until=until)
    assert [(h.holder, h.totals["favor"], h.totals["neutral"]) for h in toward] == [
        ("Stremousov", 2, 0),
        ("article", 0, 1),
    ]
    assert [(p.bucket, p.value) for p in toward[0].points["favor"]] == [
        (DAY, 1),
        (DAY + timedelta(days=1), 1),
    ]
    assert matrix.holders[0] == "Stremousov"
    cell = matrix.cells[("Stremousov", "Kherson")]
    assert (cell.favor, cell.against, cell.mean_score) == (2, 0, 0.7)
    assert matrix.cells[("Humeniuk", "Russia")].against == 1
    assert speakers == [("Humeniuk", 3), ("Stremousov", 1)]


# --- rankings against a brute-force aggregate -------------------------------------------

HOUR = timedelta(hours=1)
ENTITIES = 40
HOLDERS = 15


@dataclass(frozen=True, slots=True)
class Rollups:
    """Generated rollup rows, as the tables hold them, for the brute force to read."""

    names: dict[int, str]
    labels: dict[int, str]
    entity_rows: list[dict[str, Any]]
    stance_rows: list[dict[str, Any]]


def _entity_row(
    grain: str, bucket: datetime, entity_id: int, articles: int, mentions: int
) -> dict[str, Any]:
    return {
        "grain": grain,
        "bucket": bucket,
        "entity_id": entity_id,
        "articles": articles,
        "mentions": mentions,
    }


def _busy(rng: random.Random, order: list[int], grain: str, start: datetime, step: timedelta,
          buckets: int) -> list[dict[str, Any]]:  # fmt: skip
    """A skewed head, a long tail of ones, and exact ties: the entities 4th and 5th in
    popularity have the same rows, and so have the 10th and 11th (in the tail)."""
    rows: list[dict[str, Any]] = []
    for b in range(buckets):
        bucket = start + b * step
        for rank, entity_id in enumerate(order):
            if rank in (4, 10):
                if (
                    rows
                    and rows[-1]["bucket"] == bucket
                    and rows[-1]["entity_id"] == order[rank - 1]
                ):
                    rows.append({**rows[-1], "entity_id": entity_id})
                continue
            mean = 60 / (rank + 1) ** 1.3
            articles = round(mean * rng.uniform(0.5, 1.5)) if mean > 1 else int(rng.random() < mean)
            if articles:
                rows.append(
                    _entity_row(grain, bucket, entity_id, articles, articles * rng.randint(1, 3))
                )
    return rows


def _quiet(rng: random.Random, order: list[int], grain: str, start: datetime, step: timedelta,
           buckets: int) -> list[dict[str, Any]]:  # fmt: skip
    """Every entity in one article of most buckets: totals in a narrow band."""
    return [
        _entity_row(grain, start + b * step, entity_id, 1, rng.randint(1, 2))
        for b in range(buckets)
        for entity_id in order
        if rng.random() < 0.8
    ]


def _stances(rng: random.Random, targets: list[str]) -> list[dict[str, Any]]:
    """Stances of HOLDERS toward the targets over 20 days: H01 and H02 tie on every row.
    Scores are eighths, so their sums are exact in any order."""
    rows = []
    for d, target, label in itertools.product(range(20), targets, LABELS):
        first = rng.randint(0, 3)
        for h in range(1, HOLDERS + 1):
            n = first if h <= 2 else int(rng.random() < 2 / h)
            if n:
                rows.append(
                    {
                        "grain": "day",
                        "bucket": DAY + timedelta(days=d),
                        "target": target,
                        "holder": f"H{h:02d}",
                        "label": label,
                        "stances": n,
                        "score_sum": n * rng.randint(-8, 8) / 8,
                    }
                )
    return rows


async def _generate(engine: AsyncEngine, seed: int = 7) -> Rollups:
    rng = random.Random(seed)
    async with engine.begin() as conn:
        rows = await conn.execute(
            text(
                "INSERT INTO entities (name, label) "
                "SELECT 'E' || lpad(i::text, 2, '0'), (ARRAY['PERSON', 'ORG', 'GPE'])[1 + i % 3] "
                "FROM generate_series(1, :n) i RETURNING entity_id, name, label"
            ),
            {"n": ENTITIES},
        )
        names, labels = {}, {}
        for row in rows:
            names[row.entity_id], labels[row.entity_id] = row.name, row.label
        # The order of popularity is not the order of the ids.
        order = sorted(names)
        rng.shuffle(order)
        days, later = timedelta(days=1), DAY + timedelta(days=20)
        entity_rows = [
            *_busy(rng, order, "day", DAY, days, 20),
            *_quiet(rng, order, "day", later, days, 6),
            *_busy(rng, order, "hour", DAY, HOUR, 72),
            *_quiet(rng, order, "hour", DAY + timedelta(days=3), HOUR, 12),
        ]
        await conn.execute(
            text(
                "INSERT INTO entity_trends (grain, bucket, entity_id, label, mentions, articles) "
                "VALUES (:grain, :bucket, :entity_id, :label, :mentions, :articles)"
            ),
            [{**row, "label": labels[row["entity_id"]]} for row in entity_rows],
        )
        stance_rows = _stances(rng, [names[e] for e in order[:6]])
        await conn.execute(
            text(
                "INSERT INTO stance_trends (grain, bucket, target, holder, label, stances, "
                "score_sum) VALUES (:grain, :bucket, :target, :holder, :label, :stances, "
                ":score_sum)"
            ),
            stance_rows,
        )
    return Rollups(names, labels, entity_rows, stance_rows)


def _brute_top(data: Rollups, grain: str, since: datetime, until: datetime,
               label: str | None, limit: int) -> list[tuple[Any, ...]]:  # fmt: skip
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    points: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for row in sorted(data.entity_rows, key=lambda r: r["bucket"]):
        e = row["entity_id"]
        if row["grain"] != grain or not since <= row["bucket"] < until:
            continue
        if label is not None and data.labels[e] != label:
            continue
        totals[e][0] += row["articles"]
        totals[e][1] += row["mentions"]
        points[e].append((row["bucket"], row["mentions"]))
    ranked = sorted(totals, key=lambda e: (-totals[e][0], -totals[e][1], e))[:limit]
    return [(data.names[e], data.labels[e], *totals[e], points[e]) for e in ranked]


@pytest.fixture
async def generated(engine: AsyncEngine) -> Rollups:
    return await _generate(engine)


@pytest.fixture
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL each test sends, to tell which way a ranking was computed."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine.sync_engine, "before_cursor_execute", record)


def _path(seen: list[str]) -> tuple[int, bool]:
    """(rounds of sorted access, whether the whole window was summed) of the SQL seen."""
    rounds = sum("LATERAL" in s and "unnest" in s for s in seen)
    return rounds, any("GROUP BY t.entity_id" in s and "LATERAL" not in s for s in seen)


BUSY_DAYS = (DAY, DAY + timedelta(days=20))
QUIET_DAYS = (DAY + timedelta(days=20), DAY + timedelta(days=26))


@pytest.mark.parametrize(
    ("grain", "window", "label", "limit", "path"),
    [
        # Busy windows: exact after the first round of sorted access.
        ("day", BUSY_DAYS, None, 3, (1, False)),
        ("day", (DAY + timedelta(days=2), DAY + timedelta(days=9)), None, 5, None),
        ("day", BUSY_DAYS, "ORG", 4, None),
        ("hour", (DAY, DAY + timedelta(hours=72)), None, 3, None),
        ("hour", (DAY + timedelta(hours=5, minutes=30), DAY + timedelta(hours=30)), "PERSON", 2,
         None),
        # Ties at the limit (the twins) and limits reaching into the tail of ones.
        ("day", BUSY_DAYS, None, 4, None),
        ("day", BUSY_DAYS, None, 10, None),
        ("day", BUSY_DAYS, None, 25, None),
        # More than there are: every entity of the window.
        ("day", BUSY_DAYS, "GPE", 100, None),
        # Quiet windows: near-equal counts, so the whole window is summed.
        ("day", QUIET_DAYS, None, 3, (3, True)),
        ("hour", (DAY + timedelta(days=3), DAY + timedelta(days=3, hours=12)), "ORG", 1,
         (3, True)),
        # Deep enough to read every row of a bucket (13 ORG entities): exact without summing.
        ("hour", (DAY + timedelta(days=3), DAY + timedelta(days=3, hours=12)), "ORG", 2,
         (3, False)),
        # Quiet and busy days together, and a window with no rows at all.
        ("day", (DAY + timedelta(days=15), QUIET_DAYS[1]), None, 6, None),
        ("day", (DAY + timedelta(days=40), DAY + timedelta(days=45)), None, 10, (1, False)),
    ],
)  # fmt: skip
async def test_top_entities_equal_a_brute_force_aggregate(
    engine: AsyncEngine,
    generated: Rollups,
    statements: list[str],
    grain: str,
    window: tuple[datetime, datetime],
    label: str | None,
    limit: int,
    path: tuple[int, bool] | None,
) -> None:
    since, until = window
    async with engine.connect() as conn:
        got = await top_entities(
            conn, since=since, until=until, grain=grain, label=label, limit=limit
        )
    assert [
        (s.name, s.label, s.articles, s.mentions, [(p.bucket, p.value) for p in s.points])
        for s in got
    ] == _brute_top(generated, grain, since, until, label, limit)
    if path is not None:
        assert _path(statements) == path


async def test_every_limit_ranks_as_the_brute_force_by_either_path(
    engine: AsyncEngine, generated: Rollups, statements: list[str]
) -> None:
    summed = []
    async with engine.connect() as conn:
        for limit, (since, until) in itertools.product(
            range(1, ENTITIES + 2), (BUSY_DAYS, QUIET_DAYS)
        ):
            statements.clear()
            got = await top_entities(conn, since=since, until=until, grain="day", limit=limit)
            want = _brute_top(generated, "day", since, until, None, limit)
            assert [(s.name, s.articles, s.mentions) for s in got] == [
                (w[0], w[2], w[3]) for w in want
            ], (limit, since)
            summed.append(_path(statements)[1])
    # Both ways were taken: sorted access alone for some, the whole window for others.
    assert any(summed) and not all(summed)


def _brute_stances(data: Rollups, target: str, since: datetime, until: datetime,
                   limit: int) -> list[tuple[str, dict[str, int]]]:  # fmt: skip
    totals: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(LABELS, 0))
    for row in data.stance_rows:
        if row["target"] == target and since <= row["bucket"] < until:
            totals[row["holder"]][row["label"]] += row["stances"]
    ranked = sorted(totals, key=lambda h: (-sum(totals[h].values()), h))[:limit]
    return [(h, totals[h]) for h in ranked]


async def test_stances_toward_a_target_are_its_top_holders_exactly(
    engine: AsyncEngine, generated: Rollups
) -> None:
    target = generated.stance_rows[0]["target"]
    windows = (BUSY_DAYS, (DAY + timedelta(days=3), DAY + timedelta(days=5)))
    async with engine.connect() as conn:
        for limit, (since, until) in itertools.product((1, 2, 3, 7, 50), windows):
            got = await stances_toward(
                conn, target=target, since=since, until=until, grain="day", limit=limit
            )
            assert [(h.holder, h.totals) for h in got] == _brute_stances(
                generated, target, since, until, limit
            )
            for h in got:
                for label in LABELS:
                    assert sum(p.value for p in h.points[label]) == h.totals[label]
                    buckets = [p.bucket for p in h.points[label]]
                    assert buckets == sorted(buckets)
                    assert all(since <= b < until for b in buckets)
        # H01 and H02 tie toward every target, ahead of the others: the name decides.
        top = await stances_toward(
            conn, target=target, since=DAY, until=BUSY_DAYS[1], grain="day", limit=1
        )
    assert [(h.holder, sum(h.totals.values())) for h in top] == [
        ("H01", sum(_brute_stances(generated, target, *BUSY_DAYS, 2)[1][1].values()))
    ]


async def test_the_matrix_equals_a_brute_force_aggregate(
    engine: AsyncEngine, generated: Rollups
) -> None:
    since, until = BUSY_DAYS
    async with engine.connect() as conn:
        matrix = await stance_matrix(conn, since=since, until=until, holders=4, targets=5)
        top = await top_entities(conn, since=since, until=until, grain="day", limit=5)
    targets = {s.name for s in top}
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(LABELS, 0))
    scores: dict[tuple[str, str], float] = defaultdict(float)
    load: dict[str, int] = defaultdict(int)
    for row in generated.stance_rows:
        if row["target"] in targets and since <= row["bucket"] < until:
            counts[(row["holder"], row["target"])][row["label"]] += row["stances"]
            scores[(row["holder"], row["target"])] += row["score_sum"]
            load[row["holder"]] += row["stances"]
    holders = sorted(load, key=lambda h: (-load[h], h))[:4]
    assert sorted(matrix.holders) == sorted(holders)
    assert {
        key: (c.favor, c.against, c.neutral, c.mean_score) for key, c in matrix.cells.items()
    } == {
        key: (*c.values(), round(scores[key] / sum(c.values()), 4))
        for key, c in counts.items()
        if key[0] in holders
    }
