"""Validation of posted articles and the raw events (ids, hashes, provenance) built from them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from newsflow_ingest.articles import InvalidArticleError, Limits, prepare
from newsflow_schema import article_id, canonical_url, content_hash
from newsflow_schema.ids import revision_hash

pytestmark = pytest.mark.unit

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
LIMITS = Limits(max_text_chars=1000, max_future=timedelta(days=1), now=NOW)
TEXT = "Storm hits coast\n\nA powerful storm battered the northern coast on Tuesday."


def errors_of(payload: Any) -> dict[str, str]:
    with pytest.raises(InvalidArticleError) as caught:
        prepare(payload, LIMITS)
    return {e["field"]: e["message"] for e in caught.value.errors}


def test_event_fields_from_text() -> None:
    event = prepare(
        {
            "text": TEXT,
            "source": " Daily  News ",
            "authors": ["Jane Roe", "Jane Roe", " "],
            "tags": ["weather", "weather", "coast"],
            "language": "en-GB",
        },
        LIMITS,
    )

    assert event.title == "Storm hits coast"
    assert event.body == "A powerful storm battered the northern coast on Tuesday."
    assert event.source == "Daily News"
    assert event.authors == ("Jane Roe",)
    assert event.tags == ("weather", "coast")
    assert event.language == "en-GB"
    assert event.content_hash == revision_hash(
        title=event.title,
        body=event.body,
        metadata={
            "url": None,
            "source": "Daily News",
            "published_at": None,
            "authors": ["Jane Roe"],
            "tags": ["weather", "coast"],
            "language": "en-GB",
        },
    )
    assert event.content_hash != content_hash(event.title, event.body)
    assert event.article_id == article_id(url=None, title=event.title, body=event.body)
    assert event.original.format == "text"
    assert event.original.content == TEXT
    assert event.url is None and event.canonical_url is None


def test_id_from_canonical_url_ignores_tracking_parameters() -> None:
    first = prepare({"text": TEXT, "url": "https://www.example.com/a/storm/?utm_source=x"}, LIMITS)
    second = prepare({"text": TEXT + " Updated.", "url": "http://example.com/a/storm"}, LIMITS)

    assert first.article_id == second.article_id
    assert first.canonical_url == canonical_url("https://example.com/a/storm")
    assert first.url == "https://www.example.com/a/storm/?utm_source=x"


def test_reposting_gives_the_same_id_and_a_new_event_id() -> None:
    first = prepare({"text": TEXT}, LIMITS)
    second = prepare({"text": "  " + TEXT.replace(" ", "  ") + "\n"}, LIMITS)

    assert first.article_id == second.article_id
    assert first.event_id != second.event_id


def test_different_content_gives_a_different_id() -> None:
    assert (
        prepare({"text": TEXT}, LIMITS).article_id
        != prepare({"text": TEXT + " More."}, LIMITS).article_id
    )


def test_given_title_and_date_win_over_extracted_ones() -> None:
    event = prepare(
        {
            "text": "Headline\n\nSeptember 13, 2022\n\nBody of the article.",
            "title": "Given title",
            "published_at": "2023-01-02T03:04:05+02:00",
        },
        LIMITS,
    )

    assert event.title == "Given title"
    assert event.published_at == datetime(2023, 1, 2, 1, 4, 5, tzinfo=UTC)


def test_naive_published_at_is_read_as_utc() -> None:
    event = prepare({"text": TEXT, "published_at": "2024-05-01T10:00:00"}, LIMITS)

    assert event.published_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def test_html_is_kept_as_provenance() -> None:
    html = "<html><body><h1>Title</h1><p>Body text here.</p></body></html>"
    event = prepare({"html": html}, LIMITS)

    assert event.original.format == "html"
    assert event.original.content == html
    assert "Body text here." in event.body


@pytest.mark.parametrize(
    ("payload", "field", "fragment"),
    [
        ({"text": ""}, "text", "must not be empty"),
        ({"text": "   \n "}, "text", "must not be empty"),
        ({"text": "x" * 1001}, "text", "limit is 1000"),
        ({"html": "<p>" + "x" * 1000 + "</p>"}, "html", "limit is 1000"),
        ({"text": TEXT, "url": "ftp://example.com/a"}, "url", "http"),
        ({"text": TEXT, "url": "javascript:alert(1)"}, "url", "http"),
        ({"text": TEXT, "url": "example.com/a"}, "url", "http"),
        ({"text": TEXT, "published_at": "2024-06-03T12:00:00Z"}, "published_at", "future"),
        ({"text": TEXT, "published_at": "not a date"}, "published_at", "datetime"),
        ({"text": TEXT, "body": "x"}, "body", "unknown field"),
        ({"text": TEXT, "html": "<p>x</p>"}, "text", "exactly one of 'text' or 'html'"),
        ({"title": "Only a title"}, "text", "exactly one of 'text' or 'html'"),
        ({"text": 42}, "text", "string"),
        ({"text": TEXT, "language": "english please"}, "language", "pattern"),
        ({"text": TEXT, "tags": "weather"}, "tags", "list"),
    ],
)
def test_invalid_articles_name_the_field(payload: Any, field: str, fragment: str) -> None:
    errors = errors_of(payload)

    assert field in errors, errors
    assert fragment in errors[field]


def test_not_an_object() -> None:
    assert "body" in errors_of(["text"])


def test_markup_only_content_is_rejected() -> None:
    errors = errors_of({"text": "<!-- x --><script>alert(1)</script>"})

    assert "no article text" in errors["text"]


def test_published_at_within_tolerance_is_accepted() -> None:
    soon = (NOW + timedelta(hours=23)).isoformat()

    assert prepare({"text": TEXT, "published_at": soon}, LIMITS).published_at is not None


CORRECTABLE = {
    "url": "https://example.com/news/storm",
    "text": TEXT,
    "title": "Storm hits coast",
    "tags": ["weather"],
    "authors": ["Jane Roe"],
    "published_at": "2024-03-05T08:30:00Z",
    "source": "Daily News",
    "language": "en-GB",
}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tags", ["weather", "coast"]),
        ("authors", ["Jane Roe", "Tom Berg"]),
        ("published_at", "2024-03-05T09:30:00Z"),
        ("source", "Evening News"),
        ("title", "Storm batters coast"),
        ("text", TEXT + " Corrected."),
        ("language", "en-US"),
    ],
)
def test_a_correction_keeps_the_id_and_changes_the_revision_hash(field: str, value: Any) -> None:
    original = prepare(CORRECTABLE, LIMITS)
    corrected = prepare({**CORRECTABLE, field: value}, LIMITS)
    assert corrected.article_id == original.article_id
    assert corrected.content_hash != original.content_hash


def test_identical_content_and_metadata_give_the_same_revision_hash() -> None:
    first = prepare(CORRECTABLE, LIMITS)
    again = prepare(
        {**CORRECTABLE, "tags": [" weather "], "url": str(CORRECTABLE["url"]) + "?utm_x=1"}, LIMITS
    )
    assert again.content_hash == first.content_hash
    assert again.event_id != first.event_id
