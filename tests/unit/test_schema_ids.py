"""Article ids: canonical URLs and content hashes."""

from __future__ import annotations

import re
import unicodedata
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsflow_schema import InvalidURLError, article_id, canonical_url, content_hash
from newsflow_schema.ids import CONTENT_NAMESPACE, URL_NAMESPACE, normalise_text

pytestmark = pytest.mark.unit

BASE = "https://news.example.com/world/2022/09/13/kherson-surrender"


@pytest.mark.parametrize(
    "variant",
    [
        BASE,
        BASE + "/",
        BASE + "#comments",
        BASE + "?utm_source=twitter&utm_medium=social",
        BASE + "/?fbclid=IwAR0abc&gclid=xyz#top",
        "HTTPS://NEWS.EXAMPLE.COM/world/2022/09/13/kherson-surrender",
        "http://news.example.com/world/2022/09/13/kherson-surrender",
        "https://www.news.example.com/world/2022/09/13/kherson-surrender",
        "https://news.example.com:443/world/2022/09/13/kherson-surrender",
        "  https://news.example.com/world//2022/09/13/kherson-surrender  ",
    ],
)
def test_same_article_same_id(variant: str) -> None:
    assert article_id(url=variant, title=None, body="x") == article_id(
        url=BASE, title=None, body="y"
    )


@pytest.mark.parametrize(
    "other",
    [
        "https://news.example.com/world/2022/09/13/kherson-counteroffensive",
        "https://other.example.com/world/2022/09/13/kherson-surrender",
        BASE + "?page=2",
        "https://news.example.com:8443/world/2022/09/13/kherson-surrender",
    ],
)
def test_different_urls_different_ids(other: str) -> None:
    assert article_id(url=other, title=None, body="x") != article_id(url=BASE, title=None, body="x")


def test_query_parameters_are_sorted_and_meaningful_ones_kept() -> None:
    assert canonical_url("https://e.com/a?b=2&a=1&utm_campaign=x") == "https://e.com/a?a=1&b=2"
    assert canonical_url("https://e.com/?p=123") == "https://e.com/?p=123"


def test_url_id_is_uuid5_of_canonical_url() -> None:
    expected = uuid.uuid5(URL_NAMESPACE, "https://e.com/a")
    assert article_id(url="https://e.com/a/", title="t", body="b") == expected
    assert expected.version == 5


def test_without_url_id_comes_from_normalised_content() -> None:
    a = article_id(url=None, title="Russian  forces", body="Body text.\n\nMore.")
    b = article_id(url=None, title="russian forces", body="  Body   text. More. ")
    c = article_id(url=None, title="Russian forces", body="Different body.")
    assert a == b
    assert a != c
    assert a == uuid.uuid5(CONTENT_NAMESPACE, content_hash("Russian forces", "Body text. More."))


def test_empty_url_counts_as_no_url() -> None:
    assert article_id(url="", title="t", body="b") == article_id(url=None, title="t", body="b")


def test_title_and_body_are_not_confused() -> None:
    assert content_hash("ab", "c") != content_hash("a", "bc")


def test_unicode_compatibility_forms_hash_alike() -> None:
    # NFKC: a full-width letter and a ligature are the same text to a reader.
    assert content_hash(None, "ｆile") == content_hash(None, "ﬁle")


@pytest.mark.parametrize(
    "bad",
    [
        "ftp://e.com/a",
        "javascript:alert(1)",
        "/relative/path",
        "e.com/a",
        "https://",
        "https://e.com:99999/",
    ],
)
def test_rejects_what_is_not_an_http_url(bad: str) -> None:
    with pytest.raises(InvalidURLError):
        canonical_url(bad)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("https://example.com/#/story/1", "https://example.com/#/story/2"),
        ("https://example.com/app#!/story/1", "https://example.com/app#!/story/2"),
        ("https://example.com/view?ref=1234", "https://example.com/view?ref=5678"),
        ("https://example.com/view?src=a", "https://example.com/view?src=b"),
        ("https://example.com/view?source=a", "https://example.com/view?source=b"),
        ("https://example.com/article?id=1", "https://example.com/article?id=2"),
        ("https://example.com/list?page=1", "https://example.com/list?page=2"),
    ],
)
def test_distinct_articles_keep_distinct_ids(first: str, second: str) -> None:
    assert canonical_url(first) != canonical_url(second)
    assert article_id(url=first, title=None, body="x") != article_id(
        url=second, title=None, body="x"
    )


def test_known_tracking_parameters_are_removed_and_hash_routes_kept() -> None:
    url = (
        "https://example.com/view?ref=1&utm_campaign=a&mc_cid=b&mc_eid=c&igshid=d"
        "&fbclid=e&gclid=f#/story/1"
    )
    assert canonical_url(url) == "https://example.com/view?ref=1#/story/1"
    assert canonical_url("https://example.com/a#section-2") == "https://example.com/a"


_WHITESPACE = re.compile(r"\s+")
_SPACES = st.sampled_from(
    [" ", "\t", "\n", "\r\n", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0", "\u1680",
     "\u2000", "\u200b", "\u2028", "\u202f", "\u3000"]
)  # fmt: skip
_TEXT = st.text(st.characters(codec=None, exclude_categories=())) | st.lists(
    _SPACES | st.text(max_size=5), max_size=30
).map("".join)


@given(_TEXT)
def test_hashed_form_collapses_whitespace_as_the_regex_does(text: str) -> None:
    # The content hashes stored by enrich were taken of this form: it must never change.
    expected = _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()
    assert normalise_text(text) == expected


def test_every_whitespace_character_is_collapsed_as_the_regex_does() -> None:
    spaces = [chr(c) for c in range(0x110000) if _WHITESPACE.fullmatch(chr(c)) or chr(c).isspace()]
    text = "a" + "b".join(spaces) + "c" + "".join(spaces)
    expected = _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()
    assert normalise_text(text) == expected
