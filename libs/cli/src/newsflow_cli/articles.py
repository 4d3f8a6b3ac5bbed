"""The read API's article JSON as the CLI reads it: parsed in one place for show and replay."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from newsflow_schema import Entity, ModelInfo, Quote, Stance, Tone


class ApiArticle(BaseModel):
    """GET /v1/articles/{id}; fields the CLI does not use are ignored, missing ones empty."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    article_id: uuid.UUID
    status: str = "enriched"
    version: int | None = None
    url: str | None = None
    canonical_url: str | None = None
    source: str | None = None
    title: str | None = None
    body: str | None = None
    published_at: datetime | None = None
    language: str | None = None
    content_hash: str | None = None
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    received_at: datetime | None = None
    enriched_at: datetime | None = None
    entities: tuple[Entity, ...] = ()
    quotes: tuple[Quote, ...] = ()
    stances: tuple[Stance, ...] = ()
    tone: Tone | None = None
    models: tuple[ModelInfo, ...] = ()
    failure: dict[str, Any] | None = None
