"""The near-duplicate index in PostgreSQL: every enrich replica shares it, restarts keep it.

`assign` runs inside the transaction that writes the article. It locks the article's band
keys (transaction-scoped advisory locks, taken in key order so two writers never deadlock),
so two copies written at once by two replicas cannot both start a cluster: the second
waits for the first and then finds it. Articles that share no band key never wait.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import cast as cast_
from sqlalchemy import delete, func, literal, literal_column, select, update
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from newsflow_enrich.db.models import bands, fingerprints
from newsflow_enrich.dedup.fingerprint import (
    MinHasher,
    Signature,
    containment,
    decode_signature,
    encode_signature,
    shingles,
)


@dataclass(frozen=True, slots=True)
class Match:
    article_id: uuid.UUID
    containment: float


@dataclass(frozen=True, slots=True)
class Assignment:
    """Where an article landed: its cluster, the cluster's earliest article, what matched."""

    cluster_id: uuid.UUID
    duplicate_of: uuid.UUID | None
    matches: tuple[Match, ...] = ()


async def assign(
    conn: AsyncConnection,
    hasher: MinHasher,
    article_id: uuid.UUID,
    text: str,
    first_seen: datetime,
    *,
    replacing: bool = True,
) -> Assignment:
    """Index the article (again, after a new version: `replacing`) and put it in its cluster."""
    hashes = shingles(text, hasher.config.shingle_words)
    signature = hasher.signature_of(hashes)
    if replacing:
        await conn.execute(delete(bands).where(bands.c.article_id == article_id))
    if signature is None:
        if replacing:
            await conn.execute(delete(fingerprints).where(fingerprints.c.article_id == article_id))
        return Assignment(cluster_id=article_id, duplicate_of=None)
    keys = sorted(set(hasher.band_keys(signature)))
    await _lock(conn, keys)
    matches = await _matches(conn, hasher, article_id, keys, signature, len(hashes))
    cluster_id = matches[0][3] if matches else article_id
    values = {
        "signature": encode_signature(signature),
        "shingle_count": len(hashes),
        "cluster_id": cluster_id,
        "duplicate_of": None,
        "first_seen": first_seen,
    }
    await conn.execute(
        insert(fingerprints)
        .values(article_id=article_id, **values)
        .on_conflict_do_update(index_elements=[fingerprints.c.article_id], set_=values)
    )
    await conn.execute(insert(bands), [{"band_key": k, "article_id": article_id} for k in keys])
    earliest = await _relink(conn, cluster_id)
    return Assignment(
        cluster_id=cluster_id,
        duplicate_of=None if earliest == article_id else earliest,
        matches=tuple(Match(m[2], round(m[0], 4)) for m in matches),
    )


async def _lock(conn: AsyncConnection, keys: list[int]) -> None:
    """Transaction-scoped advisory locks on the band keys, in key order (no deadlock)."""
    key_array = cast_(literal(keys, ARRAY(BIGINT)), ARRAY(BIGINT))
    await conn.execute(
        select(func.pg_advisory_xact_lock(literal_column("k")))
        .select_from(func.unnest(key_array).alias("k"))
        .order_by(literal_column("k"))
    )


async def _matches(
    conn: AsyncConnection,
    hasher: MinHasher,
    article_id: uuid.UUID,
    keys: list[int],
    signature: Signature,
    size: int,
) -> list[tuple[float, datetime, uuid.UUID, uuid.UUID]]:
    """Indexed articles sharing a band key and confirmed by containment, best first."""
    candidates = await conn.execute(
        select(
            fingerprints.c.article_id,
            fingerprints.c.signature,
            fingerprints.c.shingle_count,
            fingerprints.c.cluster_id,
            fingerprints.c.first_seen,
        )
        .where(
            fingerprints.c.article_id.in_(
                select(bands.c.article_id).where(bands.c.band_key.in_(keys)).distinct()
            ),
            fingerprints.c.article_id != article_id,
        )
        .order_by(fingerprints.c.first_seen, fingerprints.c.article_id)
    )
    matches = []
    for row in candidates:
        score = containment(signature, size, decode_signature(row.signature), row.shingle_count)
        if score >= hasher.config.threshold:
            matches.append((score, row.first_seen, row.article_id, row.cluster_id))
    # The best match names the cluster; among equals, the earliest article's cluster.
    matches.sort(key=lambda m: (-m[0], m[1], m[2]))
    return matches


async def _relink(conn: AsyncConnection, cluster_id: uuid.UUID) -> uuid.UUID:
    """Point every member at the cluster's earliest article; return that article."""
    earliest = (
        await conn.execute(
            select(fingerprints.c.article_id)
            .where(fingerprints.c.cluster_id == cluster_id)
            .order_by(fingerprints.c.first_seen, fingerprints.c.article_id)
            .limit(1)
        )
    ).scalar_one()
    await conn.execute(
        update(fingerprints)
        .where(fingerprints.c.cluster_id == cluster_id)
        .values(
            duplicate_of=func.nullif(
                func.cast(earliest, fingerprints.c.article_id.type),
                fingerprints.c.article_id,
            )
        )
    )
    return cast(uuid.UUID, earliest)


async def cluster_of(conn: AsyncConnection, article_id: uuid.UUID) -> list[uuid.UUID]:
    """The other members of the article's cluster, earliest first (empty when it has none)."""
    cluster = (
        select(fingerprints.c.cluster_id)
        .where(fingerprints.c.article_id == article_id)
        .scalar_subquery()
    )
    rows = await conn.execute(
        select(fingerprints.c.article_id)
        .where(fingerprints.c.cluster_id == cluster, fingerprints.c.article_id != article_id)
        .order_by(fingerprints.c.first_seen, fingerprints.c.article_id)
    )
    return [row.article_id for row in rows]
