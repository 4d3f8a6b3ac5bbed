"""Property tests: id derivation never raises on arbitrary input and is idempotent."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.provisional import urls

from newsflow_schema import InvalidURLError, article_id, canonical_url, content_hash
from newsflow_schema.ids import normalise_text

pytestmark = pytest.mark.unit


@given(st.text(), st.text())
def test_content_ids_never_raise_and_are_stable(title: str, body: str) -> None:
    first = article_id(url=None, title=title, body=body)
    assert first == article_id(url=None, title=title, body=body)
    assert isinstance(first, uuid.UUID) and first.version == 5
    assert len(content_hash(title, body)) == 64


@given(st.text())
def test_normalisation_is_idempotent(text: str) -> None:
    once = normalise_text(text)
    assert normalise_text(once) == once


@given(urls())
def test_canonical_url_is_idempotent(url: str) -> None:
    try:
        once = canonical_url(url)
    except InvalidURLError:
        return
    assert canonical_url(once) == once
    assert article_id(url=once, title=None, body="") == article_id(url=url, title=None, body="")


@given(st.text())
def test_arbitrary_text_as_url_is_canonical_or_a_clear_error(text: str) -> None:
    try:
        result = canonical_url(text)
    except InvalidURLError as exc:
        assert "URL" in str(exc)
    else:
        assert result.startswith("https://")


@given(urls(), st.sampled_from(["utm_source=x", "fbclid=abc", "gclid=1&utm_medium=y"]))
def test_tracking_parameters_never_change_the_id(url: str, tracking: str) -> None:
    try:
        base = canonical_url(url)
    except InvalidURLError:
        return
    if "#" in url:
        return
    joined = f"{url}{'&' if '?' in url else '?'}{tracking}"
    assert canonical_url(joined) == base


TRACKING = st.sampled_from(
    ["utm_source", "utm_campaign", "fbclid", "gclid", "mc_cid", "mc_eid", "igshid", "msclkid"]
)
KEPT_NAMES = st.sampled_from(["ref", "src", "source", "id", "page", "p", "story"])
VALUES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)


@given(st.lists(st.tuples(KEPT_NAMES, VALUES), max_size=4), st.lists(st.tuples(TRACKING, VALUES)))
def test_only_tracking_parameters_are_removed(
    kept: list[tuple[str, str]], tracking: list[tuple[str, str]]
) -> None:
    query = "&".join(f"{k}={v}" for k, v in [*kept, *tracking])
    url = f"https://example.com/view?{query}"
    assert canonical_url(url) == canonical_url(
        "https://example.com/view?" + "&".join(f"{k}={v}" for k, v in kept)
    )
    for name, value in kept:
        assert f"{name}={value}" in canonical_url(url)


@given(VALUES, VALUES)
def test_hash_routes_tell_articles_apart(first: str, second: str) -> None:
    a = canonical_url(f"https://example.com/#/story/{first}")
    b = canonical_url(f"https://example.com/#/story/{second}")
    assert (a == b) == (first == second)
