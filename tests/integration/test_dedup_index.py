"""The near-duplicate index on a real PostgreSQL: clusters, earliest member, concurrent writers."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from newsflow_enrich.db.migrate import upgrade
from newsflow_enrich.db.models import articles, fingerprints
from newsflow_enrich.dedup.fingerprint import MinHasher
from newsflow_enrich.dedup.index import Assignment, assign, cluster_of
from tests.infra import create_database, drop_database

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 8, tzinfo=UTC)

ORIGINAL = (
    "The harbour authority in Cork said on Tuesday that the north quay would close for "
    "repairs after inspectors found cracks in two of its concrete piles.\n\n"
    "“We cannot take the risk with loaded trucks on it,” said Aoife Brennan, the authority's "
    "chief engineer, adding that ferries would dock at the south terminal until March.\n\n"
    "Shipping companies were told of the closure in a letter on Monday. Two of them said "
    "the change would add a day to some deliveries of grain and timber."
)
SYNDICATED = (
    "Home | News | Ireland | Business\n\n(Example Wire) - "
    + ORIGINAL
    + "\n\nThis article first appeared on the Example Wire and is republished with permission."
    "\n\nShare this article: Facebook Twitter Email"
)
UPDATED = (
    ORIGINAL.replace("until March", "until the end of March")
    + "\n\nUpdate: the authority said on Wednesday that repairs would start next week."
)
SAME_TOPIC = (
    "Cork's north quay is to shut for months, the harbour authority said, after cracks were "
    "found in its piles during a routine inspection this winter.\n\n"
    "Hauliers criticised the short notice. “Nobody asked us,” said Declan Murphy of the "
    "Irish Road Haulage Association, who said drivers faced long detours through the city."
)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    # A database of its own per test: copies indexed by one test would match another's.
    url = await create_database(database_url, prefix="dedup")
    await asyncio.to_thread(upgrade, url)
    db = create_async_engine(url)
    yield db
    await db.dispose()
    await drop_database(database_url, url)


async def _article(engine: AsyncEngine, body: str, received_at: datetime) -> uuid.UUID:
    article_id = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            insert(articles).values(
                article_id=article_id,
                body=body,
                content_hash=hashlib.sha256(body.encode()).hexdigest(),
                raw_event_id=uuid.uuid4(),
                received_at=received_at,
            )
        )
    return article_id


async def _assign(
    engine: AsyncEngine, article_id: uuid.UUID, text: str, seen: datetime
) -> Assignment:
    async with engine.begin() as conn:
        return await assign(conn, MinHasher(), article_id, text, seen)


async def test_three_copies_share_a_cluster_and_a_same_topic_story_stays_apart(
    engine: AsyncEngine,
) -> None:
    stories = [ORIGINAL, SYNDICATED, UPDATED, SAME_TOPIC]
    times = [T0 + timedelta(minutes=i) for i in range(len(stories))]
    ids = [await _article(engine, s, t) for s, t in zip(stories, times, strict=True)]
    results = [await _assign(engine, i, s, t) for i, s, t in zip(ids, stories, times, strict=True)]
    original, syndicated, updated, other = results
    assert original.cluster_id == ids[0]
    assert original.duplicate_of is None
    for copy in (syndicated, updated):
        assert copy.cluster_id == ids[0]
        assert copy.duplicate_of == ids[0]
    assert other.cluster_id == ids[3]
    assert other.matches == ()
    async with engine.connect() as conn:
        assert await cluster_of(conn, ids[2]) == [ids[0], ids[1]]
        assert await cluster_of(conn, ids[3]) == []


async def test_an_earlier_copy_indexed_late_becomes_the_one_the_others_point_to(
    engine: AsyncEngine,
) -> None:
    late = await _article(engine, SYNDICATED + " Kinsale", T0)
    first = await _article(engine, ORIGINAL + " Kinsale", T0 + timedelta(hours=1))
    await _assign(engine, first, ORIGINAL + " Kinsale", T0 + timedelta(hours=1))
    result = await _assign(engine, late, SYNDICATED + " Kinsale", T0)
    assert result.duplicate_of is None
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(fingerprints.c.duplicate_of).where(fingerprints.c.article_id == first)
            )
        ).one()
    assert row.duplicate_of == late


async def test_two_writers_at_once_end_in_one_cluster(engine: AsyncEngine) -> None:
    body_a = ORIGINAL + " Bantry"
    body_b = SYNDICATED + " Bantry"
    a = await _article(engine, body_a, T0)
    b = await _article(engine, body_b, T0 + timedelta(seconds=1))
    # Both transactions start before either has indexed: without the band locks each would
    # see an empty index and start a cluster of its own.
    ra, rb = await asyncio.gather(
        _assign(engine, a, body_a, T0), _assign(engine, b, body_b, T0 + timedelta(seconds=1))
    )
    assert ra.cluster_id == rb.cluster_id


async def test_a_new_version_is_reindexed_not_duplicated(engine: AsyncEngine) -> None:
    body = ORIGINAL + " Cobh"
    a = await _article(engine, body, T0)
    await _assign(engine, a, body, T0)
    result = await _assign(engine, a, SAME_TOPIC + " Cobh", T0)
    assert result.cluster_id == a
    assert result.matches == ()
    async with engine.connect() as conn:
        count = len(
            (
                await conn.execute(
                    select(fingerprints.c.article_id).where(fingerprints.c.article_id == a)
                )
            ).all()
        )
    assert count == 1
