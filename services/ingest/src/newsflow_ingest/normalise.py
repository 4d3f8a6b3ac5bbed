"""Turning messy article input (scraped text or HTML) into clean title, body and date.

Only what is provably page furniture is removed: markup, a repeat of the headline, and
whole head lines that are a byline, a photo credit or an absolute date. A field the client
gave (title, authors, published_at) is never looked for in the body. Nothing here does
network I/O: HTML is parsed locally and handed to htmldate as a tree.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import htmldate
import trafilatura
from lxml import etree  # type: ignore[import-untyped]
from lxml import html as lxml_html
from lxml_html_clean import Cleaner
from trafilatura.settings import Document

from newsflow_ingest.furniture import (
    TAG_NAMES,
    authors_from_byline,
    date_line,
    is_credit,
    is_markup_residue,
    is_page_chrome,
    real_tag,
)

# dateparser keeps shared mutable state (its search singleton, locale caches) and returns
# wrong dates or raises under concurrent calls (scrapinghub/dateparser#441, #1369), while
# the app may normalise in threads (INGEST_NORMALISE_PROCESSES=0): one call at a time.
_DATEPARSER_LOCK = threading.Lock()

_MAX_TITLE_CHARS = 200
_MAX_TITLE_WORDS = 30
# The head (headline, dek, date line, credits) ends at the first paragraph this long, or
# after this many paragraphs: furniture is only looked for there.
_BODY_PARAGRAPH_CHARS = 250
_MAX_HEAD_PARAGRAPHS = 5
_SPACES = re.compile(r"[ \t]+")

# Elements whose end starts a new line in the text taken out of markup.
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figcaption",
        "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
        "ol", "p", "pre", "section", "table", "tr", "ul",
    }
)  # fmt: skip
# Page furniture that is never article text.
_KILL_TAGS = ["nav", "footer", "aside", "noscript", "template", "svg", "iframe", "button", "form"]


@dataclass(frozen=True, slots=True)
class Given:
    """What the client sent besides the content: never re-extracted from the body."""

    title: str | None = None
    published_at: bool = False
    authors: bool = False
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Normalised:
    """What normalisation found: the clean body and, when it could tell, title/date/authors."""

    body: str
    title: str | None
    published_at: datetime | None
    authors: tuple[str, ...] = ()


# Invisible characters that change how text is shown, not what it says: bidi embeddings,
# overrides and isolates, zero-width space, BOM. ZWNJ/ZWJ (U+200C/U+200D) are spelling
# in Persian, Indic scripts and emoji sequences and are kept, as are other format marks.
_DROPPED = frozenset({0x200B, 0xFEFF, *range(0x202A, 0x202F), *range(0x2066, 0x206A)})
# Controls that separate lines (str.splitlines' set): a line break, so no words are glued.
_LINE_BREAKS = frozenset({0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029})


class _UnicodeCleaner(dict[int, str | None]):
    """A str.translate table filled on first sight of each code point."""

    def __missing__(self, code: int) -> str | None:
        ch = chr(code)
        category = unicodedata.category(ch)
        value: str | None = ch
        if ch in "\n\t":
            value = ch
        elif code in _DROPPED:
            value = None
        elif code in _LINE_BREAKS:
            value = "\n"
        elif category == "Zs":
            value = " "
        elif category == "Cc":
            # Other controls carry no text; a space keeps the words on each side apart.
            value = " "
        elif category == "Cs":
            value = "\ufffd"
        self[code] = value
        return value


_UNICODE_CLEANER = _UnicodeCleaner()
# Every code point the table above changes (controls, spaces other than U+0020, line and
# paragraph separators, bidi controls, zero-width space, BOM, surrogates); the unit tests
# check it against the table over all of Unicode. Text without one is left as it is: the
# per-character translation is most of clean_unicode's time.
_CHANGED_BY_CLEANER = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\xa0\u1680\u2000-\u200b\u2028-\u202f\u205f\u2066-\u2069"
    r"\u3000\ud800-\udfff\ufeff]"
)


def clean_unicode(text: str) -> str:
    """NFC, line breaks unified, bidi controls and zero-width spaces dropped, spaces plain.

    NFC rather than NFKC: compatibility folding rewrites ellipses, superscripts and
    fractions ("m²" becomes "m2"), changing what the article says.
    """
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    if _CHANGED_BY_CLEANER.search(text) is None:
        return text
    return text.translate(_UNICODE_CLEANER)


def _one_line(line: str) -> str:
    """`line` with runs of spaces and tabs made one space and its ends trimmed.

    The regex only runs where there is a tab or two spaces in a row: elsewhere it would
    leave the line as it is.
    """
    if "\t" in line or "  " in line:
        return _SPACES.sub(" ", line).strip()
    return line.strip()


def clean_line(text: str) -> str:
    """One line of text: Unicode cleaned, runs of spaces collapsed, ends trimmed."""
    return _one_line(clean_unicode(text).replace("\n", " "))


def has_markup(text: str) -> bool:
    """Whether `text` holds a real HTML tag, comment or doctype (not just "<" and ">")."""
    return real_tag(text) is not None


# A "<" that starts no tag of a known element, comment or doctype: escaped before parsing.
_NOT_A_TAG = re.compile(rf"<(?!/?(?:{TAG_NAMES})(?=[\s/>])|!--|!doctype)", re.IGNORECASE)


def _markup_tree_to_text(root: Any) -> str:
    cleaner = Cleaner(
        scripts=True,
        javascript=True,
        comments=True,
        style=True,
        inline_style=True,
        links=False,
        meta=True,
        page_structure=False,
        processing_instructions=True,
        embedded=True,
        frames=True,
        forms=True,
        annoying_tags=True,
        kill_tags=_KILL_TAGS,
        safe_attrs_only=False,
    )
    cleaned = cleaner.clean_html(root)
    for element in cleaned.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag == "br":
            element.tail = "\n" + (element.tail or "")
        elif element.tag in _BLOCK_TAGS:
            element.tail = "\n\n" + (element.tail or "")
    return str(cleaned.text_content())


def _strip_markup(text: str) -> str:
    """The text with its HTML tags, comments, scripts and styles removed.

    Text without a real tag comes back unchanged, so "a < b > c", "AT&T" and
    "<news@example.com>" survive; in text with tags, a "<" that starts no tag is kept.
    """
    if not has_markup(text):
        return text
    try:
        root = lxml_html.fragment_fromstring(_NOT_A_TAG.sub("&lt;", text), create_parent="div")
    except (etree.ParserError, ValueError):
        return text
    if len(root) == 0:
        return text
    return _markup_tree_to_text(root)


def _looks_like_document(text: str) -> bool:
    return text.lstrip()[:15].lower().startswith(("<!doctype", "<html"))


def _is_title_like(line: str) -> bool:
    return (
        len(line) <= _MAX_TITLE_CHARS
        and len(line.split()) <= _MAX_TITLE_WORDS
        and not line.endswith((".", ",", ";", ":"))
    )


def _is_residue_or_chrome(line: str) -> bool:
    return is_markup_residue(line) or is_page_chrome(line)


def _is_plain_residue_or_chrome(line: str) -> bool:
    # In text that holds no real tag, comment or doctype, no line is a lone tag or starts
    # with "<!--" (either would be a real tag in the text): only the comment ends a
    # scraper left behind are markup residue.
    return line.startswith(("!--", "-->")) or line.endswith("-->") or is_page_chrome(line)


def _paragraphs(
    text: str, *, drop: Callable[[str], bool] = _is_residue_or_chrome
) -> list[list[str]]:
    """Blank-line separated paragraphs of cleaned, non-empty lines; lines `drop` says are
    markup residue or page chrome (navigation, share buttons, advert markers, cookie
    banners) left out."""
    paragraphs: list[list[str]] = []
    current: list[str] = []
    for raw in text.split("\n"):
        line = _one_line(raw)
        if line and not drop(line):
            current.append(line)
        elif not line and current:
            paragraphs.append(current)
            current = []
    if current:
        paragraphs.append(current)
    return paragraphs


def _sane_date(value: datetime | None, now: datetime, max_future: timedelta) -> datetime | None:
    # An extracted date in the future is a misread (an event date, a copyright year), not a
    # reason to refuse the article: drop it.
    if value is None or value > now + max_future:
        return None
    return value


@dataclass
class _Head:
    """What the head of a text has yielded so far."""

    given: Given
    title: str | None
    published: datetime | None = None
    date_seen: bool = False
    authors: tuple[str, ...] = ()
    byline_seen: bool = False

    def is_furniture(self, line: str) -> bool:
        """Whether a head line is furniture; records the date or authors it states."""
        if self.title is not None and line.casefold() == self.title.casefold():
            return True
        if is_credit(line):
            return True
        if not self.date_seen:
            with _DATEPARSER_LOCK:
                found = date_line(line, self.given.language)
            if found is not None:
                self.date_seen = True
                self.published = found.value
                return True
        if not self.byline_seen:
            names = authors_from_byline(line)
            if names is not None:
                self.byline_seen = True
                self.authors = names
                return True
        return False


def _read_head(paragraphs: list[list[str]], head: _Head) -> list[list[str]]:
    """The paragraphs without head furniture; a lone short first paragraph may be the title."""
    body: list[list[str]] = []
    for index, paragraph in enumerate(paragraphs):
        long = sum(len(line) for line in paragraph) > _BODY_PARAGRAPH_CHARS
        if long or index >= _MAX_HEAD_PARAGRAPHS:
            return body + paragraphs[index:]
        kept = [line for line in paragraph if not head.is_furniture(line)]
        if (
            head.title is None
            and head.given.title is None
            and not body
            and len(kept) == 1
            and _is_title_like(kept[0])
            and index < len(paragraphs) - 1
        ):
            head.title = kept[0]
            continue
        if kept:
            body.append(kept)
    return body


def _from_head(
    paragraphs: list[list[str]], now: datetime, max_future: timedelta, given: Given
) -> Normalised:
    head = _Head(given=given, title=given.title)
    body = _read_head(paragraphs, head)
    return Normalised(
        body="\n\n".join("\n".join(p) for p in body),
        title=head.title if given.title is None else None,
        published_at=None if given.published_at else _sane_date(head.published, now, max_future),
        authors=() if given.authors else head.authors,
    )


def takes_fast_path(cleaned: str, given: Given) -> bool:
    """Whether Unicode-cleaned text is clean: the title was given and there is no real tag.

    Such text needs no markup stripping and no headline guess; everything else
    normalisation does to it still happens (see `normalise_text`).
    """
    return given.title is not None and not has_markup(cleaned)


def _normalise_clean(
    cleaned: str, now: datetime, max_future: timedelta, given: Given
) -> Normalised:
    """The fast path: text for which `takes_fast_path` holds. The same result as
    `_normalise_scraped`, without the steps that cannot change such text."""
    return _from_head(
        _paragraphs(cleaned, drop=_is_plain_residue_or_chrome), now, max_future, given
    )


def _normalise_scraped(
    cleaned: str, now: datetime, max_future: timedelta, given: Given
) -> Normalised:
    """Any Unicode-cleaned text that is not a whole page: tags stripped, head read."""
    return _from_head(_paragraphs(_strip_markup(cleaned)), now, max_future, given)


def normalise_text(
    text: str,
    *,
    now: datetime | None = None,
    max_future: timedelta = timedelta(days=1),
    given: Given = Given(),  # noqa: B008 - frozen, shared safely
) -> Normalised:
    """Clean scraped plain text; find headline, date line and byline in its first lines.

    The head (the paragraphs before the first long one) is read line by line: markup
    residue, photo credits, a repeat of the headline, a whole-line absolute date and a
    name-shaped byline are dropped; a lone short first paragraph is the headline when the
    client sent none. Relative dates ("On Monday", "12 hours ago") are never read.

    Clean text (title given, no real tag: `takes_fast_path`) skips markup stripping and
    the headline guess, which cannot change it; the page chrome, credit, byline and
    date-line rules still apply to it, as they do when `authors` or `published_at` were
    given (those lines are furniture either way; only their values are not used).
    """
    now = now or datetime.now(UTC)
    if _looks_like_document(text):
        return normalise_html(text, now=now, max_future=max_future, given=given)
    cleaned = clean_unicode(text)
    if takes_fast_path(cleaned, given):
        return _normalise_clean(cleaned, now, max_future, given)
    return _normalise_scraped(cleaned, now, max_future, given)


def _parse_html(html: str) -> Any:
    if _looks_like_document(html):
        return lxml_html.document_fromstring(html)
    return lxml_html.fragment_fromstring(html, create_parent="div")


def _html_date(html: str) -> datetime | None:
    """The date the page's markup states (meta tags, <time>), never one from its prose.

    htmldate downloads its argument when it looks like a URL: it only ever gets a tree we
    parsed, no URL, and no search of the text.
    """
    try:
        tree = _parse_html(html)
    except (etree.ParserError, ValueError):
        return None
    found = htmldate.find_date(
        tree,
        url=None,
        outputformat="%Y-%m-%dT%H:%M:%S%z",
        original_date=True,
        extensive_search=False,
    )
    if not found:
        return None
    try:
        value = datetime.fromisoformat(found)
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _fallback(html: str, now: datetime, max_future: timedelta, given: Given) -> Normalised:
    """Pages too small for trafilatura: the markup's text, read like scraped text."""
    try:
        text = _markup_tree_to_text(_parse_html(html))
    except (etree.ParserError, ValueError):
        text = ""
    if _looks_like_document(text):
        # Unparseable markup: refuse to loop back into the HTML path.
        text = ""
    result = normalise_text(text, now=now, max_future=max_future, given=given)
    published = result.published_at
    if published is None and not given.published_at:
        published = _sane_date(_html_date(html), now, max_future)
    title = result.title
    if title is None and given.title is None:
        title = _html_title(html)
    return Normalised(result.body, title, published, result.authors)


def normalise_html(
    html: str,
    *,
    now: datetime | None = None,
    max_future: timedelta = timedelta(days=1),
    given: Given = Given(),  # noqa: B008 - frozen, shared safely
) -> Normalised:
    """Extract the article from an HTML page or fragment with trafilatura and htmldate."""
    now = now or datetime.now(UTC)
    html = clean_unicode(html)
    document = trafilatura.bare_extraction(
        html, url=None, with_metadata=True, include_comments=False, include_tables=True
    )
    extracted = str(document.text or "") if isinstance(document, Document) else ""
    if not isinstance(document, Document) or not extracted.strip():
        return _fallback(html, now, max_future, given)
    found_title = clean_line(str(document.title)) if document.title else None
    lines = [clean_line(line) for line in extracted.split("\n")]
    lines = [
        line for line in lines if line and not (is_markup_residue(line) or is_page_chrome(line))
    ]
    # trafilatura keeps bylines, credits and date lines inside the article: the same head
    # rules as for text, one paragraph per extracted line.
    head = _Head(given=given, title=given.title or found_title)
    body = _read_head([[line] for line in lines], head)
    authors: tuple[str, ...] = ()
    if not given.authors:
        if document.author:
            authors = tuple(a.strip() for a in str(document.author).split(";") if a.strip())
        authors = authors or head.authors
    published = None
    if not given.published_at:
        published = _sane_date(_html_date(html) or head.published, now, max_future)
    return Normalised(
        body="\n\n".join(line for paragraph in body for line in paragraph),
        title=None if given.title else (found_title or head.title),
        published_at=published,
        authors=authors,
    )


def _html_title(html: str) -> str | None:
    try:
        root = lxml_html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return None
    for path in ("//h1", "//title"):
        found = root.xpath(path)
        if found:
            title = clean_line(str(found[0].text_content()))
            if title:
                return title
    return None


def normalise(
    kind: Literal["text", "html"],
    content: str,
    *,
    now: datetime | None = None,
    max_future: timedelta = timedelta(days=1),
    given: Given = Given(),  # noqa: B008 - frozen, shared safely
) -> Normalised:
    """Normalise `content` given as plain (possibly scraped) text or as HTML.

    `given` says which fields the client sent (never extracted then) and the article's
    language, which decides the day/month order of numeric dates.
    """
    if kind == "html":
        return normalise_html(content, now=now, max_future=max_future, given=given)
    return normalise_text(content, now=now, max_future=max_future, given=given)


def warm_up() -> None:
    """Load dateparser's language data (seconds on first use) before the first request."""
    normalise("text", "Headline\n\nSeptember 13, 2022\n\nBody text of the article.")
