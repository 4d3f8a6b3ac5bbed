"""The read API's response shapes, each built from stored rows in exactly one place."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from newsflow_enrich.db.read import StoredArticle
from newsflow_schema import Entity, Mention, ModelInfo, Quote, Span, Stance, Tone

Row = Mapping[str, Any]

NEVER_ENRICHED = "null when the article failed before any version of it was enriched"


class Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class FailureOut(Out):
    """Why an accepted article could not be enriched (it is also on the dead-letter topic)."""

    reason: str = Field(description="Machine-readable cause, e.g. nlp-budget, db-rejected.")
    stage: str = Field(description="Where it failed: decode, nlp, database or publish.")
    detail: str = Field(description="What went wrong, for a human.")
    attempts: int = Field(description="How many times it was tried before it was set aside.")
    failed_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> FailureOut:
        return cls(
            reason=row["reason"],
            stage=row["stage"],
            detail=row["detail"],
            attempts=row["attempts"],
            failed_at=row["failed_at"],
        )


def _entity(e: Row) -> Entity:
    return Entity(
        name=e["name"],
        label=e["label"],
        mentions=tuple(Mention(**m) for m in e["mentions"]),
        mention_count=e["mention_count"],
        salience=e["salience"],
    )


def _quote(q: Row) -> Quote:
    speaker = None
    if q["speaker_start"] is not None and q["speaker_end"] is not None:
        speaker = Span(start=q["speaker_start"], end=q["speaker_end"])
    return Quote(
        text=q["text"],
        span=Span(start=q["start_char"], end=q["end_char"]),
        kind=q["kind"],
        speaker=q["speaker"],
        speaker_entity=q["speaker_entity"],
        speaker_span=speaker,
        cue=q["cue"],
    )


def _stance(s: Row) -> Stance:
    return Stance(
        holder=s["holder"],
        holder_type=s["holder_type"],
        target=s["target"],
        label=s["label"],
        score=s["score"],
        evidence=tuple(Span(**span) for span in s["evidence"]),
    )


def _tone(row: Row) -> Tone | None:
    if row["tone"] is None:
        return None
    return Tone(
        tone=row["tone"],
        positive=row["tone_positive"],
        negative=row["tone_negative"],
        polarity=row["tone_polarity"],
    )


class ArticleOut(Out):
    """An article as stored: its enriched version, and its failure when it failed."""

    article_id: uuid.UUID
    status: Literal["enriched", "failed"] = Field(
        description="enriched: the latest version is stored with its analysis. failed: the "
        "latest delivery could not be enriched (see `failure`); an older enriched version, "
        "if any, is still shown."
    )
    failure: FailureOut | None = Field(default=None, description="Set when status is failed.")
    version: int | None = Field(description=NEVER_ENRICHED)
    url: str | None
    canonical_url: str | None
    source: str | None
    title: str | None
    body: str | None = Field(
        description=f"The stored body; every offset below points into it ({NEVER_ENRICHED})."
    )
    published_at: datetime | None
    language: str | None
    content_hash: str | None = Field(description=NEVER_ENRICHED)
    authors: list[str]
    tags: list[str]
    raw_event_id: uuid.UUID | None
    enriched_event_id: uuid.UUID | None
    received_at: datetime | None
    enriched_at: datetime | None
    updated_at: datetime | None
    entities: list[Entity]
    quotes: list[Quote]
    stances: list[Stance]
    tone: Tone | None
    models: list[ModelInfo]
    cluster_id: uuid.UUID | None = Field(
        default=None,
        description="Its near-duplicate cluster: the id of the cluster's earliest article.",
    )
    duplicate_of: uuid.UUID | None = Field(
        default=None, description="The cluster's earliest article, when this one is a copy."
    )
    near_duplicates: list[uuid.UUID] = Field(
        default_factory=list,
        description="The other articles of its cluster (re-crawls, syndicated copies, updates "
        "under another URL), earliest first.",
    )

    @classmethod
    def from_stored(cls, stored: StoredArticle) -> ArticleOut:
        """The response for what is stored; the caller has checked that there is something."""
        failure = FailureOut.from_row(stored.failure) if stored.failure else None
        if stored.article is not None:
            return cls.from_row(stored.article, failure=failure)
        assert stored.failure is not None and failure is not None
        row = stored.failure
        return cls(
            article_id=row["article_id"],
            status="failed",
            failure=failure,
            version=None,
            url=row["url"],
            canonical_url=None,
            source=None,
            title=row["title"],
            body=None,
            published_at=None,
            language=None,
            content_hash=None,
            authors=[],
            tags=[],
            raw_event_id=row["raw_event_id"],
            enriched_event_id=None,
            received_at=row["received_at"],
            enriched_at=None,
            updated_at=None,
            entities=[],
            quotes=[],
            stances=[],
            tone=None,
            models=[],
        )

    @classmethod
    def from_row(cls, row: Row, *, failure: FailureOut | None = None) -> ArticleOut:
        """An `articles` row with its entities, quotes and stances, as `db.read` returns it."""
        return cls(
            article_id=row["article_id"],
            status="failed" if failure is not None else "enriched",
            failure=failure,
            version=row["version"],
            url=row["url"],
            canonical_url=row["canonical_url"],
            source=row["source"],
            title=row["title"],
            body=row["body"],
            published_at=row["published_at"],
            language=row["language"],
            content_hash=row["content_hash"],
            authors=list(row["authors"] or []),
            tags=list(row["tags"] or []),
            raw_event_id=row["raw_event_id"],
            enriched_event_id=row["enriched_event_id"],
            received_at=row["received_at"],
            enriched_at=row["enriched_at"],
            updated_at=row["updated_at"],
            entities=[_entity(e) for e in row["entities"]],
            quotes=[_quote(q) for q in row["quotes"]],
            stances=[_stance(s) for s in row["stances"]],
            tone=_tone(row),
            models=[ModelInfo(**m) for m in row["models"]],
            cluster_id=row.get("cluster_id"),
            duplicate_of=row.get("duplicate_of"),
            near_duplicates=list(row.get("near_duplicates") or []),
        )


class FailureSummary(Out):
    reason: str
    stage: str
    failed_at: datetime


class ArticleSummary(Out):
    article_id: uuid.UUID
    status: Literal["enriched", "failed"]
    title: str | None
    url: str | None
    source: str | None
    language: str | None
    published_at: datetime | None
    received_at: datetime = Field(
        description="When ingest accepted it (for a record that could not even be decoded: "
        "when it failed); the list is ordered by it, newest first."
    )
    enriched_at: datetime | None
    failure: FailureSummary | None = Field(default=None, description="Set when status is failed.")

    @classmethod
    def from_row(cls, row: Row) -> ArticleSummary:
        failure = None
        if row["status"] == "failed":
            failure = FailureSummary(
                reason=row["reason"], stage=row["stage"], failed_at=row["failed_at"]
            )
        return cls(
            article_id=row["article_id"],
            status=row["status"],
            title=row["title"],
            url=row["url"],
            source=row["source"],
            language=row["language"],
            published_at=row["published_at"],
            received_at=row["received_at"],
            enriched_at=row["enriched_at"],
            failure=failure,
        )


class ArticlePage(Out):
    items: list[ArticleSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end.")


class EntityCount(Out):
    name: str
    label: str
    article_count: int

    @classmethod
    def from_row(cls, row: Row) -> EntityCount:
        return cls(name=row["name"], label=row["label"], article_count=row["article_count"])


class EntityList(Out):
    items: list[EntityCount]
