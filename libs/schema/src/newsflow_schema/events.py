"""The event models carried on newsflow's topics: frozen, versioned, strict."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, ClassVar, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    model_validator,
)


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware datetime, stored in UTC. Naive datetimes are rejected."""

NonEmptyStr = Annotated[str, Field(min_length=1)]
Label = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Z_]+$")]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Model(BaseModel):
    """Base of every contract model: immutable, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


class Event(Model):
    """Fields every event carries."""

    # The CloudEvents `type` of this event; a subclass sets it.
    EVENT_TYPE: ClassVar[str]

    schema_version: Literal[1] = 1
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4, description="Unique per event.")
    occurred_at: UtcDatetime = Field(default_factory=utc_now)


class Span(Model):
    """Character offsets [start, end) into the article body."""

    start: NonNegativeInt
    end: NonNegativeInt

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError(f"span end {self.end} is before its start {self.start}")
        return self


# --- news.articles.raw.v1 -------------------------------------------------------------


class OriginalContent(Model):
    """What the client sent, kept for provenance."""

    format: Literal["text", "html"]
    content: str


class ArticleRawEvent(Event):
    """An article accepted by ingest, normalised, before enrichment."""

    EVENT_TYPE: ClassVar[str] = "dev.newsflow.article.raw.v1"

    article_id: uuid.UUID
    url: str | None = None
    canonical_url: str | None = None
    source: str | None = None
    title: str | None = None
    body: NonEmptyStr
    published_at: UtcDatetime | None = None
    authors: tuple[str, ...] = ()
    language: str | None = Field(default=None, max_length=16)
    tags: tuple[str, ...] = ()
    content_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    original: OriginalContent
    received_at: UtcDatetime = Field(default_factory=utc_now)
    reprocess: bool = Field(
        default=False,
        description=(
            "Enrich again even when the content is unchanged (a replay, e.g. after a model "
            "upgrade); a redelivery of the same event still changes nothing."
        ),
    )


# --- news.articles.enriched.v1 --------------------------------------------------------


class Mention(Span):
    text: NonEmptyStr


class Entity(Model):
    name: NonEmptyStr = Field(description="Canonical name of the entity in this article.")
    label: Label = Field(description="PERSON, ORG, GPE, LOC, NORP, EVENT, …")
    mentions: tuple[Mention, ...]
    mention_count: NonNegativeInt
    salience: float = Field(ge=0.0, le=1.0)


class Quote(Model):
    text: NonEmptyStr
    span: Span
    kind: Literal["direct", "indirect"] = "direct"
    speaker: str | None = Field(default=None, description="The speaker as the text names them.")
    speaker_entity: str | None = Field(
        default=None, description="Canonical name of the entity the speaker was linked to."
    )
    speaker_span: Span | None = None
    cue: str | None = Field(default=None, description="The cue verb, e.g. 'said'.")


class Stance(Model):
    holder: NonEmptyStr = Field(description="A quoted speaker, or 'article' for the article.")
    holder_type: Literal["speaker", "article"]
    target: NonEmptyStr
    label: Literal["favor", "against", "neutral"]
    score: float = Field(ge=-1.0, le=1.0)
    evidence: tuple[Span, ...] = ()


class Tone(Model):
    """Article-level tone in GDELT's terms: percentages of words, polarity their sum."""

    tone: float
    positive: float = Field(ge=0.0)
    negative: float = Field(ge=0.0)
    polarity: float = Field(ge=0.0)


class ModelInfo(Model):
    name: NonEmptyStr
    version: NonEmptyStr


class ArticleEnrichedEvent(Event):
    """An article after enrichment, as written to PostgreSQL."""

    EVENT_TYPE: ClassVar[str] = "dev.newsflow.article.enriched.v1"

    article_id: uuid.UUID
    raw_event_id: uuid.UUID
    url: str | None = None
    # Additive within v1: what subscribers and the store need without the raw event.
    canonical_url: str | None = None
    source: str | None = None
    title: str | None = None
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    published_at: UtcDatetime | None = None
    language: str | None = None
    content_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    entities: tuple[Entity, ...] = ()
    quotes: tuple[Quote, ...] = ()
    stances: tuple[Stance, ...] = ()
    tone: Tone | None = None
    models: tuple[ModelInfo, ...] = ()
    enriched_at: UtcDatetime = Field(default_factory=utc_now)
    # Additive within v1, set when the article is stored (None on events built elsewhere).
    version: PositiveInt | None = Field(
        default=None, description="The stored version of the article: 1, then +1 per change."
    )
    cluster_id: uuid.UUID | None = Field(
        default=None,
        description="Near-duplicate cluster: the id of its earliest article (this article's "
        "own id when it has no copies).",
    )
    duplicate_of: uuid.UUID | None = Field(
        default=None,
        description="The earliest article of the cluster when this one is a near-duplicate.",
    )


# --- news.articles.dlq.v1 -------------------------------------------------------------


class DeadLetterEvent(Event):
    """A record enrich could not process, with where it came from and why it failed."""

    EVENT_TYPE: ClassVar[str] = "dev.newsflow.article.deadletter.v1"

    original_topic: NonEmptyStr
    original_partition: NonNegativeInt
    original_offset: NonNegativeInt
    original_key: str | None = None
    original_value_b64: str = Field(
        description="The original value, base64, cut to the first max bytes when larger."
    )
    original_value_size: NonNegativeInt
    original_value_truncated: bool = False
    error_class: NonEmptyStr
    error_message: str
    consumer_group: str | None = None
    reason: str | None = Field(
        default=None,
        description="Why it failed, machine-readable (the read API's failure reason), e.g. "
        "nlp-worker-died, nlp-budget, nlp-error, db-rejected, event-too-large, undecodable.",
    )
    stage: str | None = Field(
        default=None, description="Where it failed: decode, nlp, database or publish."
    )
    attempts: PositiveInt = Field(default=1, description="Attempts made before giving up.")
