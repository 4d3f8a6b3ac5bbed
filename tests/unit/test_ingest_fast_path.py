"""The fast path for clean text gives exactly what the general path gives, and the shortcuts
inside normalisation change nothing: checked on generated inputs against the long way."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from newsflow_ingest import normalise
from newsflow_ingest.articles import InvalidArticleError, Limits, prepare
from newsflow_ingest.furniture import _MENU_SEPARATORS
from newsflow_ingest.normalise import (
    _CHANGED_BY_CLEANER,
    _SPACES,
    _UNICODE_CLEANER,
    Given,
    _looks_like_document,
    _normalise_scraped,
    _one_line,
    _UnicodeCleaner,
    clean_line,
    clean_unicode,
    normalise_text,
    takes_fast_path,
)

pytestmark = pytest.mark.unit

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
MAX_FUTURE = timedelta(days=1)
LIMITS = Limits(max_text_chars=200_000, max_future=MAX_FUTURE, now=NOW)
LONG = (
    "Heavy rain flooded low-lying districts of the capital on Thursday, forcing thousands "
    "of families from their homes, officials said, as rescue crews worked through the night "
    "to reach villages cut off by the rising river and its overflowing tributaries."
)
HEADLINES = ["Storm hits coast", "City edge Rovers", "Floods force thousands from homes"]

# Head lines of every kind the rules look at (and lines like them that are text), plus
# characters that clean_unicode and the line splitting change.
_LINES = st.sampled_from(
    [
        *HEADLINES, "STORM HITS COAST", LONG, LONG[:240], "Rain fell on 3 March 2024.",
        "By Jane Doe", "By JANE DOE and John Roe, Reuters", "By Reuters", "By Tuesday",
        "By contrast with last season, the home side pressed high.", "By 2030, buses.",
        "September 13, 2022", "Published: 4 Apr 2024 09:15 GMT", "13. September 2022",
        "03/04/2024", "2024-03-04", "12 hours ago", "Updated 2 June 2024", "2099-01-01",
        "Photo: Getty Images", "(AP Photo/Jane Doe)", "Reuters/Jane Doe", "Reuters",
        "Getty Images photographers were barred from the ground.",
        "Share on Facebook", "Facebook | Twitter | Email", "Advertisement",
        "Home | World | Business | Sport", "Home » World » Europe", "A | b | c",
        "© 2024 Daily News. All rights reserved.", "Copyright 2023 Example Media",
        "We use cookies to improve your experience on our site. Accept all",
        "!-- Google tag -->", "-->", "!--", "end of comment -->",
        "a < b > c", "<news@example.com>", "AT&T & co", "x<y and y>z", "< p >", "&amp;",
        "\u201cQuoted,\u201d she said.", "Kherson", "UKRAINE \u2014",
    ]
)  # fmt: skip
_ODD = st.sampled_from(
    [" ", "  ", "\t", "\u00a0", "\u2009", "\u3000", "\u200b", "\ufeff", "\u202e", "\u200d",
     "\x0b", "\x0c", "\x85", "\u2028", "\u2029", "\r", "\r\n", "\x01", "\x7f", "e\u0301",
     "\n", "\n\n"]
)  # fmt: skip
_LINE = st.lists(_LINES | _ODD | st.text(max_size=12), min_size=1, max_size=4).map("".join)
_PARAGRAPH = st.lists(_LINE, min_size=1, max_size=3).map("\n".join)
_SEPARATOR = st.sampled_from(["\n\n", "\n \n", "\n\t\n", "\r\n\r\n", "\n\n\n", "\u2029\u2029"])
_CLEAN_TEXT = st.tuples(
    st.lists(st.tuples(_PARAGRAPH, _SEPARATOR), min_size=1, max_size=7), st.booleans()
).map(lambda parts: "".join(p + s for p, s in parts[0]) + (LONG if parts[1] else ""))
_TITLE = st.sampled_from(HEADLINES) | st.text(min_size=1, max_size=20)
_LANGUAGE = st.sampled_from([None, "en", "en-US", "en-GB", "de", "fr", "zz"])


def _clean(text: str, given: Given) -> str:
    """The cleaned text, when `text` is a clean input (else the example is discarded)."""
    assume(not _looks_like_document(text))
    cleaned = clean_unicode(text)
    assume(takes_fast_path(cleaned, given))
    return cleaned


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_CLEAN_TEXT, _TITLE, st.booleans(), st.booleans(), _LANGUAGE)
def test_fast_path_normalises_clean_text_exactly_as_the_general_path(
    text: str, title: str, published_at: bool, authors: bool, language: str | None
) -> None:
    given_fields = Given(
        title=clean_line(title), published_at=published_at, authors=authors, language=language
    )
    cleaned = _clean(text, given_fields)

    fast = normalise_text(text, now=NOW, max_future=MAX_FUTURE, given=given_fields)
    slow = _normalise_scraped(cleaned, NOW, MAX_FUTURE, given_fields)

    assert fast == slow


_PER_EVENT = {"event_id", "occurred_at", "received_at"}


def _event_or_errors(payload: dict[str, Any]) -> Any:
    try:
        # Only the ids and clock readings of the event itself may differ.
        return prepare(payload, LIMITS).model_dump(exclude=_PER_EVENT)
    except InvalidArticleError as exc:
        return exc.errors


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    _CLEAN_TEXT,
    _TITLE,
    st.none() | st.just("2024-05-01T10:00:00+02:00"),
    st.none() | st.just(["Ann Lee", " Ann  Lee "]),
    _LANGUAGE,
    st.none() | st.just("https://example.com/news/storm?utm_source=x"),
)
def test_fast_path_builds_the_same_event_as_the_general_path(
    text: str,
    title: str,
    published_at: str | None,
    authors: list[str] | None,
    language: str | None,
    url: str | None,
) -> None:
    payload: dict[str, Any] = {"text": text, "title": title, "tags": ["weather"]}
    optional = {"published_at": published_at, "authors": authors, "language": language}
    payload |= {key: value for key, value in optional.items() if value is not None}
    if url is not None:
        payload["url"] = url
    event_title = clean_line(title) or None
    assume(event_title is not None)
    _clean(text, Given(title=event_title))

    fast = _event_or_errors(payload)
    with pytest.MonkeyPatch.context() as patch:
        # The event as the general path builds it: the fast path's function replaced.
        patch.setattr(normalise, "_normalise_clean", _normalise_scraped)
        slow = _event_or_errors(payload)

    assert fast == slow


def test_clean_text_takes_the_fast_path_and_its_furniture_rules_still_apply(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    taken: list[str] = []
    fast = normalise._normalise_clean

    def spy(cleaned: str, *args: Any) -> normalise.Normalised:
        taken.append(cleaned)
        return fast(cleaned, *args)

    monkeypatch.setattr(normalise, "_normalise_clean", spy)
    text = "By Jane Doe\n\n4 April 2024\n\nPhoto: Getty Images\n\nShare on Facebook\n\n" + LONG
    result = normalise_text(text, now=NOW, given=Given(title="Given", published_at=True))

    assert len(taken) == 1
    assert result.body == LONG
    assert result.authors == ("Jane Doe",) and result.published_at is None
    # With a real tag, or without a title, the general path.
    normalise_text("<p>Storm</p>\n\n" + LONG, now=NOW, given=Given(title="Given"))
    normalise_text(text, now=NOW)
    assert len(taken) == 1


def _translated(text: str) -> str:
    """clean_unicode without its shortcut: every character through the table."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    return text.translate(_UNICODE_CLEANER)


_ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=60) | _CLEAN_TEXT


@given(_ANY_TEXT)
def test_clean_unicode_equals_the_full_translation(text: str) -> None:
    assert clean_unicode(text) == _translated(text)


def test_the_shortcut_knows_every_character_the_table_changes() -> None:
    table = _UnicodeCleaner()
    missed = []
    for code in range(0x110000):
        char = chr(code)
        if char.translate(table) != char and _CHANGED_BY_CLEANER.match(char) is None:
            missed.append(f"U+{code:04X}")
        if len(table) > 4096:
            table.clear()
    assert not missed, missed[:20]


@given(_ANY_TEXT)
def test_one_line_equals_collapsing_with_the_regex(text: str) -> None:
    assert _one_line(text) == _SPACES.sub(" ", text).strip()


@given(st.text(st.characters(codec=None, exclude_categories=()), max_size=80) | _LINE)
def test_a_line_without_a_menu_mark_is_never_a_menu(line: str) -> None:
    assume(not any(mark in line for mark in "|·•»›"))
    # _is_menu answers False without the split: the split could not find three items.
    assert len(_MENU_SEPARATORS.split(line)) < 3
