"""The article a client posts, its validation, and its turning into an ArticleRawEvent."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from newsflow_ingest.batch import printable
from newsflow_ingest.normalise import Given, clean_line, has_markup, normalise
from newsflow_schema import (
    ArticleRawEvent,
    InvalidURLError,
    OriginalContent,
    article_id,
    canonical_url,
)
from newsflow_schema.ids import revision_hash

_MIN_YEAR = 1000
_SURROGATE_OR_NUL = re.compile("[\x00\ud800-\udfff]")

_LANGUAGE_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"

EXAMPLE_TEXT: dict[str, Any] = {
    "text": (
        "Floods force thousands from homes\n\nPublished: 4 Apr 2024 09:15 GMT\n\n"
        "Heavy rain flooded low-lying districts of the capital on Thursday, forcing "
        "thousands of families from their homes, officials said."
    ),
    "url": "https://example.com/news/floods-force-thousands",
    "source": "example.com",
    "language": "en",
    "tags": ["weather"],
}
EXAMPLE_HTML: dict[str, Any] = {
    "html": (
        "<html><head><title>Storm hits coast</title></head><body><article>"
        "<h1>Storm hits coast</h1><p>A powerful storm battered the northern coast on "
        "Tuesday, cutting power to 40,000 homes, officials said.</p></article></body></html>"
    ),
    "published_at": "2024-03-05T08:30:00+01:00",
    "authors": ["Jane Roe"],
}


@dataclass(frozen=True, slots=True)
class Limits:
    """The per-article limits from settings, passed to validation as context."""

    max_text_chars: int
    max_future: timedelta
    now: datetime


class ArticleIn(BaseModel):
    """An article as a client posts it. Exactly one of `text` or `html` is required.

    `published_at` is an RFC 3339 / ISO 8601 time; one without a UTC offset is taken as
    UTC. It may not be more than the configured tolerance (default 1 day) in the future.
    When `title` or `published_at` is missing it is extracted from the content.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [EXAMPLE_TEXT, EXAMPLE_HTML]},
    )

    text: str | None = Field(default=None, description="Plain or scraped text of the article.")
    html: str | None = Field(default=None, description="HTML of the article page or fragment.")
    title: str | None = Field(default=None, max_length=1000)
    url: str | None = Field(default=None, max_length=2048, description="Absolute http(s) URL.")
    source: str | None = Field(default=None, max_length=200)
    published_at: datetime | None = Field(
        default=None, description="Publication time; without an offset it is read as UTC."
    )
    authors: list[str] = Field(default_factory=list, max_length=50)
    language: str | None = Field(
        default=None, max_length=16, pattern=_LANGUAGE_PATTERN, description="BCP 47 tag."
    )
    tags: list[str] = Field(default_factory=list, max_length=100)

    @field_validator(
        "text", "html", "title", "url", "source", "language", "authors", "tags", mode="before"
    )
    @classmethod
    def _encodable(cls, value: object) -> object:
        # A NUL or a lone surrogate (JSON allows "\\u0000" and "\\ud800") cannot be stored
        # in PostgreSQL or encoded as UTF-8: refuse it here, naming the field.
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str):
                _check_encodable(text)
        return value

    @field_validator("html")
    @classmethod
    def _markup(cls, value: str | None) -> str | None:
        # Only markup is parsed as HTML: a URL or plain words here would otherwise be
        # handed to an extractor that may fetch it.
        if value is not None and value.strip() and not has_markup(value):
            raise ValueError("holds no HTML markup (no tags); send plain text as 'text'")
        return value

    @field_validator("text", "html")
    @classmethod
    def _content(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise ValueError("must not be empty")
        limits = _limits(info)
        if limits is not None and len(value) > limits.max_text_chars:
            raise ValueError(
                f"is {len(value)} characters long; the limit is {limits.max_text_chars}"
            )
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            canonical_url(value)
        except InvalidURLError:
            raise ValueError("must be an absolute http:// or https:// URL") from None
        return value.strip()

    @field_validator("published_at")
    @classmethod
    def _published(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is None:
            return None
        try:
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is out of range once converted to UTC") from None
        if value.year < _MIN_YEAR:
            raise ValueError(f"is before the year {_MIN_YEAR}; send the publication time")
        limits = _limits(info)
        if limits is not None and value > limits.now + limits.max_future:
            raise ValueError(
                f"is in the future ({value.isoformat()}); at most "
                f"{limits.max_future} ahead of now is accepted"
            )
        return value

    @model_validator(mode="after")
    def _one_content(self) -> Self:
        if (self.text is None) == (self.html is None):
            raise ValueError("exactly one of 'text' or 'html' is required")
        return self


def _check_encodable(text: str) -> None:
    found = _SURROGATE_OR_NUL.search(text)
    if found is None:
        return
    char = found.group()
    what = "a NUL character" if char == "\x00" else f"a lone surrogate (U+{ord(char):04X})"
    raise ValueError(f"contains {what} at position {found.start()}; remove it")


def _limits(info: ValidationInfo) -> Limits | None:
    context = info.context
    if isinstance(context, dict):
        limits = context.get("limits")
        if isinstance(limits, Limits):
            return limits
    return None


class InvalidArticleError(ValueError):
    """The article cannot be accepted; `errors` name each field and what to change."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors

    def summary(self) -> str:
        """The detail of the 422: which fields to change (each explained in `errors`)."""
        fields = ", ".join(dict.fromkeys(e["field"] for e in self.errors))
        return f"the article is invalid: {fields}; see errors"


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        field = printable(".".join(str(part) for part in loc))
        message = printable(error["msg"].removeprefix("Value error, "))
        if error["type"] == "extra_forbidden":
            allowed = ", ".join(ArticleIn.model_fields)
            message = f"unknown field; the fields are: {allowed}"
        elif not loc and error["type"] == "string_unicode":
            # A field name with a lone surrogate fails before any field is looked at.
            field = printable(str(error["input"]))
            message = "is not a valid field name (it holds a lone surrogate)"
        elif not loc:
            # The one model-level rule is about text/html.
            field = "text"
        errors.append({"field": field or "text", "message": message})
    return errors


def parse_article(payload: object, limits: Limits) -> ArticleIn:
    """Validate a decoded JSON value as an article, or raise InvalidArticleError."""
    if not isinstance(payload, dict):
        raise InvalidArticleError(
            [{"field": "body", "message": "must be a JSON object with the article's fields"}]
        )
    try:
        return ArticleIn.model_validate(payload, context={"limits": limits})
    except ValidationError as exc:
        raise InvalidArticleError(_field_errors(exc)) from exc


def _clean_list(values: list[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for value in values:
        cleaned = clean_line(value)
        if cleaned:
            seen.setdefault(cleaned, None)
    return tuple(seen)


def _metadata(article: ArticleIn, event: dict[str, Any]) -> dict[str, object]:
    """The metadata a correction may change; part of the revision hash."""
    return {
        "url": event["canonical_url"],
        "source": event["source"],
        "published_at": event["published_at"].isoformat() if event["published_at"] else None,
        "authors": list(event["authors"]),
        "tags": list(event["tags"]),
        "language": article.language,
    }


def _no_text(kind: str) -> InvalidArticleError:
    return InvalidArticleError(
        [
            {
                "field": kind,
                "message": "no article text is left after removing markup and page "
                "furniture; send the article's text",
            }
        ]
    )


def build_event(article: ArticleIn, limits: Limits) -> ArticleRawEvent:
    """Normalise the article and build its raw event (id, revision hash, provenance).

    The id comes from the canonical URL (else title and body), so it stays when metadata
    is corrected; `content_hash` covers content and metadata, so a correction is a new
    revision to consumers.
    """
    kind: Literal["text", "html"] = "text" if article.text is not None else "html"
    content = article.text if article.text is not None else article.html
    assert content is not None  # guaranteed by ArticleIn's model validator
    title = (clean_line(article.title) if article.title else None) or None
    authors = _clean_list(article.authors)
    given = Given(
        title=title,
        published_at=article.published_at is not None,
        authors=bool(authors),
        language=article.language,
    )
    found = normalise(kind, content, now=limits.now, max_future=limits.max_future, given=given)
    if not found.body:
        raise _no_text(kind)
    title = title or found.title
    fields: dict[str, Any] = {
        "canonical_url": canonical_url(article.url) if article.url else None,
        "source": (clean_line(article.source) if article.source else None) or None,
        "published_at": article.published_at or found.published_at,
        "authors": authors or found.authors,
        "tags": _clean_list(article.tags),
    }
    return ArticleRawEvent(
        article_id=article_id(url=article.url, title=title, body=found.body),
        url=article.url,
        title=title,
        body=found.body,
        language=article.language,
        content_hash=revision_hash(
            title=title, body=found.body, metadata=_metadata(article, fields)
        ),
        original=OriginalContent(format=kind, content=content),
        **fields,
    )


def prepare(payload: object, limits: Limits) -> ArticleRawEvent:
    """Validate, normalise and build the event for one posted article (CPU-bound, pure)."""
    return build_event(parse_article(payload, limits), limits)
