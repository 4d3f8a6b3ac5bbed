"""Trend rollups on a real PostgreSQL, kept by the write path: counts, new versions, queries."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from newsflow_enrich.db.migrate import upgrade
from newsflow_enrich.db.write import store_batch
from newsflow_enrich.nlp import Analysis
from newsflow_enrich.pipeline import enrich_article
from newsflow_enrich.trends.queries import (
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
