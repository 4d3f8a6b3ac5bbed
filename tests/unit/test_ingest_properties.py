"""Property tests: normalisation never raises on arbitrary Unicode, and is idempotent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsflow_ingest.normalise import clean_line, clean_unicode, normalise

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 1, tzinfo=UTC)
# Arbitrary Unicode, plus the shapes scraped input has: tags, entities, quotes, dates.
messy = st.text() | st.lists(
    st.sampled_from(
        [
            "<p>", "</p>", "<!-- x -->", "<script>x()</script>", "&amp;", "&#8217;", "\u201c",
            "\u00a0", "\u200b", "\r\n", "\n\n", "September 13, 2022", "Photo: AP", "By A. B",
            "Kherson", "UKRAINE \u2014", "\ufeff", "<br/>", "<h1>T</h1>", " ",
        ]
    )
    | st.text(max_size=20),
    max_size=40,
).map("".join)  # fmt: skip


@given(messy)
def test_clean_unicode_is_idempotent(text: str) -> None:
    once = clean_unicode(text)
    assert clean_unicode(once) == once


@given(messy)
def test_clean_line_is_idempotent_and_single_line(text: str) -> None:
    once = clean_line(text)
    assert clean_line(once) == once
    assert "\n" not in once


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None, max_examples=60)
@given(st.sampled_from(["text", "html"]), messy)
def test_normalise_never_raises_and_its_body_is_a_fixed_point(kind: str, content: str) -> None:
    result = normalise(kind, content, now=NOW)  # type: ignore[arg-type]
    assert isinstance(result.body, str)
    assert result.published_at is None or result.published_at <= NOW.replace(year=2026, day=2)
    if result.body.strip():
        again = normalise("text", result.body, now=NOW)
        # A second pass may still recognise a headline; it only ever drops whole lines.
        assert {line for line in again.body.split("\n") if line} <= set(result.body.split("\n"))
