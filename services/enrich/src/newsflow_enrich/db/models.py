"""The PostgreSQL tables enrich owns, as SQLAlchemy 2 declarative models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Explicit constraint names keep Alembic migrations (and their downgrades) deterministic.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


Timestamp = DateTime(timezone=True)


class Article(Base):
    """One row per article id; the latest content wins, older redeliveries change nothing."""

    __tablename__ = "articles"

    article_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    url: Mapped[str | None] = mapped_column(Text)
    canonical_url: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(Timestamp)
    language: Mapped[str | None] = mapped_column(String(16))
    content_hash: Mapped[str] = mapped_column(String(64))
    authors: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'::text[]"))
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'::text[]"))
    original_format: Mapped[str | None] = mapped_column(String(8))
    raw_event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    enriched_event_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    status: Mapped[str] = mapped_column(String(16), server_default="enriched")
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    received_at: Mapped[datetime] = mapped_column(Timestamp)
    enriched_at: Mapped[datetime | None] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    tone: Mapped[float | None] = mapped_column(Float)
    tone_positive: Mapped[float | None] = mapped_column(Float)
    tone_negative: Mapped[float | None] = mapped_column(Float)
    tone_polarity: Mapped[float | None] = mapped_column(Float)
    models: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))

    __table_args__ = (
        CheckConstraint("status IN ('queued', 'enriched')", name="status"),
        # Keyset pagination of GET /v1/articles walks (received_at, article_id) newest first.
        Index("ix_articles_received_at_article_id", "received_at", "article_id"),
        Index("ix_articles_canonical_url", "canonical_url"),
    )


class EntityRow(Base):
    """A named entity, global across articles: one row per canonical name and label."""

    __tablename__ = "entities"

    entity_id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())

    __table_args__ = (
        UniqueConstraint("name", "label", name="uq_entities_name_label"),
        Index("ix_entities_lower_name", func.lower(text("name"))),
    )


class ArticleEntity(Base):
    """An entity as one article mentions it: offsets into that article's body."""

    __tablename__ = "article_entities"

    article_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("articles.article_id", ondelete="CASCADE"),
        primary_key=True,
    )
    entity_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("entities.entity_id", ondelete="CASCADE"), primary_key=True
    )
    mention_count: Mapped[int] = mapped_column(Integer)
    salience: Mapped[float] = mapped_column(Float)
    mentions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)

    __table_args__ = (Index("ix_article_entities_entity_id", "entity_id"),)


class QuoteRow(Base):
    __tablename__ = "quotes"

    quote_id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    article_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("articles.article_id", ondelete="CASCADE")
    )
    ordinal: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    start_char: Mapped[int] = mapped_column(Integer)
    end_char: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    speaker: Mapped[str | None] = mapped_column(Text)
    speaker_entity: Mapped[str | None] = mapped_column(Text)
    speaker_start: Mapped[int | None] = mapped_column(Integer)
    speaker_end: Mapped[int | None] = mapped_column(Integer)
    cue: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("article_id", "ordinal", name="uq_quotes_article_ordinal"),)


class StanceRow(Base):
    __tablename__ = "stances"

    stance_id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    article_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("articles.article_id", ondelete="CASCADE")
    )
    ordinal: Mapped[int] = mapped_column(Integer)
    holder: Mapped[str] = mapped_column(Text)
    holder_type: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb")
    )

    __table_args__ = (
        UniqueConstraint("article_id", "ordinal", name="uq_stances_article_ordinal"),
        Index("ix_stances_target", "target"),
    )


class OutboxRow(Base):
    """An event waiting to be published; written in the same transaction as its article."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    article_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    topic: Mapped[str] = mapped_column(Text)
    key: Mapped[str] = mapped_column(Text)
    # The exact bytes that go on the wire, so a republish after a crash is byte-identical.
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    # Header names and values exactly as sent (values are bytes on the wire), pairwise.
    header_names: Mapped[list[str]] = mapped_column(
        ARRAY(Text), server_default=text("'{}'::text[]")
    )
    header_values: Mapped[list[bytes]] = mapped_column(
        ARRAY(LargeBinary), server_default=text("'{}'::bytea[]")
    )
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(Timestamp)
    # A row the relay can never publish (the broker refuses it for good) is set aside with
    # its reason, so it never heads the queue again.
    failed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    failure: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        # The relay only ever looks for unpublished rows, oldest first.
        Index(
            "ix_outbox_pending",
            "id",
            postgresql_where=text("published_at IS NULL AND failed_at IS NULL"),
        ),
        Index("ix_outbox_article_id", "article_id"),
    )


class ArticleFailure(Base):
    """An accepted article that could not be enriched: its end state, until a redrive.

    Kept apart from `articles` because the value PostgreSQL refused (a NUL byte, say) may be
    the article itself; only NUL-free, bounded text is stored here. A later successful write
    of the same article deletes the row in the same transaction.
    """

    __tablename__ = "article_failures"

    article_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    # A short machine-readable cause, e.g. nlp-worker-died, nlp-budget, nlp-error,
    # db-rejected, event-too-large, undecodable, schema-invalid, record-too-large.
    reason: Mapped[str] = mapped_column(String(64))
    # Where it failed: decode | nlp | database | publish.
    stage: Mapped[str] = mapped_column(String(16))
    # A human-readable message (error class and text), NUL-free and bounded.
    detail: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, server_default="1")
    failed_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    raw_event_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    source_topic: Mapped[str | None] = mapped_column(Text)
    source_partition: Mapped[int | None] = mapped_column(Integer)
    source_offset: Mapped[int | None] = mapped_column(BigInteger)
    # What a list or viewer shows, when the record was decodable (NUL bytes removed).
    title: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime | None] = mapped_column(Timestamp)

    __table_args__ = (
        CheckConstraint("stage IN ('decode', 'nlp', 'database', 'publish')", name="stage"),
        Index("ix_article_failures_failed_at_article_id", "failed_at", "article_id"),
        Index("ix_article_failures_reason", "reason"),
    )


class ArticleFingerprint(Base):
    """An article's near-duplicate fingerprint and the cluster of copies it belongs to."""

    __tablename__ = "article_fingerprints"

    article_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("articles.article_id", ondelete="CASCADE"),
        primary_key=True,
    )
    # MinHash signature (little-endian uint64s) and the size of the shingle set it summarises.
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    shingle_count: Mapped[int] = mapped_column(Integer)
    # The cluster is named after its earliest article; `duplicate_of` is that article for
    # every other member and NULL for the earliest one itself.
    cluster_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    duplicate_of: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    first_seen: Mapped[datetime] = mapped_column(Timestamp)

    __table_args__ = (Index("ix_article_fingerprints_cluster_id", "cluster_id"),)


class ArticleBand(Base):
    """One LSH band key of an article: articles sharing a key are near-duplicate candidates."""

    __tablename__ = "article_bands"

    band_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    article_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("article_fingerprints.article_id", ondelete="CASCADE"),
        primary_key=True,
    )

    __table_args__ = (Index("ix_article_bands_article_id", "article_id"),)


class EntityTrend(Base):
    """Mentions of an entity per hour and per day: what the trends API reads, never the
    article tables, so a query costs the same at a thousand articles or a million."""

    __tablename__ = "entity_trends"

    grain: Mapped[str] = mapped_column(String(4), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(Timestamp, primary_key=True)
    entity_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("entities.entity_id", ondelete="CASCADE"), primary_key=True
    )
    # The entity's label, copied (an entity's label never changes: it is part of its
    # identity), so a ranking by label reads one index, not a join.
    label: Mapped[str] = mapped_column(String(32))
    mentions: Mapped[int] = mapped_column(Integer)
    articles: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint("grain IN ('hour', 'day')", name="grain"),
        # An entity's buckets in a window, summed or drawn from the index alone.
        Index(
            "ix_entity_trends_series",
            "grain",
            "entity_id",
            "bucket",
            postgresql_include=["articles", "mentions"],
        ),
        # Each bucket's entities, busiest first: the sorted access of the ranking.
        Index(
            "ix_entity_trends_rank",
            "grain",
            "bucket",
            text("articles DESC"),
            "entity_id",
            postgresql_include=["mentions"],
        ),
        Index(
            "ix_entity_trends_label_rank",
            "grain",
            "label",
            "bucket",
            text("articles DESC"),
            "entity_id",
            postgresql_include=["mentions"],
        ),
    )


class StanceTrend(Base):
    """Stances per holder, target and label, per hour and per day."""

    __tablename__ = "stance_trends"

    grain: Mapped[str] = mapped_column(String(4), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(Timestamp, primary_key=True)
    target: Mapped[str] = mapped_column(Text, primary_key=True)
    holder: Mapped[str] = mapped_column(Text, primary_key=True)
    label: Mapped[str] = mapped_column(String(16), primary_key=True)
    stances: Mapped[int] = mapped_column(Integer)
    score_sum: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        CheckConstraint("grain IN ('hour', 'day')", name="grain"),
        # A target's window, ranked by holder from the index alone.
        Index(
            "ix_stance_trends_target",
            "grain",
            "target",
            "bucket",
            postgresql_include=["holder", "label", "stances", "score_sum"],
        ),
        # One holder's stances toward a target: the series and cells of the top holders.
        Index(
            "ix_stance_trends_holder",
            "grain",
            "target",
            "holder",
            "bucket",
            postgresql_include=["label", "stances", "score_sum"],
        ),
    )


class SpeakerTrend(Base):
    """Quotes per speaker, per hour and per day."""

    __tablename__ = "speaker_trends"

    grain: Mapped[str] = mapped_column(String(4), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(Timestamp, primary_key=True)
    speaker: Mapped[str] = mapped_column(Text, primary_key=True)
    quotes: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint("grain IN ('hour', 'day')", name="grain"),
        # A window's speakers from the index alone: the rows of a day lie far apart on disk.
        Index(
            "ix_speaker_trends_window",
            "grain",
            "bucket",
            postgresql_include=["speaker", "quotes"],
        ),
    )


# Core handles of the tables, for the statements of the write path and the read queries.
articles = cast(Table, Article.__table__)
entities = cast(Table, EntityRow.__table__)
article_entities = cast(Table, ArticleEntity.__table__)
quotes = cast(Table, QuoteRow.__table__)
stances = cast(Table, StanceRow.__table__)
outbox = cast(Table, OutboxRow.__table__)
failures = cast(Table, ArticleFailure.__table__)
fingerprints = cast(Table, ArticleFingerprint.__table__)
bands = cast(Table, ArticleBand.__table__)
