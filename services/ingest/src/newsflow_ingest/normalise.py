"""Turning messy article input (scraped text or HTML) into clean title, body and date."""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import dateparser
import htmldate
import trafilatura
from dateparser.search import search_dates
from lxml import etree  # type: ignore[import-untyped]
from lxml import html as lxml_html
from lxml_html_clean import Cleaner
from trafilatura.settings import Document

# dateparser settings for the date line of scraped text: a full date (day, month and year)
# is required so that "On Monday" or "Tuesday" can never be resolved relative to today.
_DATE_SETTINGS: Any = {
    "STRICT_PARSING": True,
    "REQUIRE_PARTS": ["day", "month", "year"],
    "TIMEZONE": "UTC",
    "RETURN_AS_TIMEZONE_AWARE": True,
    "PREFER_DATES_FROM": "past",
}
# dateparser keeps shared mutable state (its search singleton, locale caches) and returns
# wrong dates or raises under concurrent calls (scrapinghub/dateparser#441, #1369), while
# the app normalises in worker threads: one call at a time.
_DATEPARSER_LOCK = threading.Lock()
# Languages dateparser tries on a date line. Without a list it tries every locale it has
# on every line, which dominated ingest's CPU profile (bench/results/profile-ingest.txt).
DEFAULT_DATE_LANGUAGES: tuple[str, ...] = ("en",)


def date_languages(language: str | None) -> tuple[str, ...]:
    """The article's own language (primary subtag) first, then English."""
    primary = (language or "").split("-")[0].strip().lower()
    if primary and primary not in DEFAULT_DATE_LANGUAGES:
        return (primary, *DEFAULT_DATE_LANGUAGES)
    return DEFAULT_DATE_LANGUAGES


# A head line is taken as a date line when the date covers this much of it; below that the
# date is part of a sentence or a headline ("Storm of March 3, 2024 batters coast").
_DATE_LINE_COVERAGE = 0.4
_MAX_DATE_LINE_CHARS = 100
_MAX_TITLE_CHARS = 200
_MAX_TITLE_WORDS = 30
# The head (headline, dek, date line, credits) ends at the first paragraph this long, or
# after this many paragraphs: dates and titles are only looked for there.
_BODY_PARAGRAPH_CHARS = 250
_MAX_HEAD_PARAGRAPHS = 5

# Photo credits and captions scrapers leave between the headline and the body.
_CREDIT = re.compile(
    r"^(?:file )?(?:image|photo|photograph|picture|pic|credit|caption)s?"
    r"(?: source| credit)?\s*[:|]|"
    r"\b(?:getty images|ap photo|afp photo|reuters/|shutterstock)\b",
    re.IGNORECASE,
)
_BYLINE = re.compile(r"^by\s+(?P<names>[^\d|]{2,120})$", re.IGNORECASE)
_AUTHOR_SPLIT = re.compile(r"\s*(?:,|;|\band\b|&)\s*", re.IGNORECASE)
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
class Normalised:
    """What normalisation found: the clean body and, when it could tell, title/date/authors."""

    body: str
    title: str | None
    published_at: datetime | None
    authors: tuple[str, ...] = ()


class _UnicodeCleaner(dict[int, str | None]):
    """A str.translate table filled on first sight of each code point.

    Line/paragraph separators become newlines, other space separators plain spaces, and
    invisible control/format characters (zero-width spaces, BOMs, bidi marks) are dropped.
    """

    def __missing__(self, code: int) -> str | None:
        ch = chr(code)
        category = unicodedata.category(ch)
        if ch in "\n\t":
            value: str | None = ch
        elif category in ("Zl", "Zp"):
            value = "\n"
        elif category == "Zs":
            value = " "
        elif category in ("Cc", "Cf"):
            value = None
        else:
            value = ch
        self[code] = value
        return value


_UNICODE_CLEANER = _UnicodeCleaner()


def clean_unicode(text: str) -> str:
    """NFC, line breaks unified, invisible format/control characters dropped, spaces plain.

    NFC rather than NFKC: compatibility folding rewrites ellipses, superscripts and
    fractions ("m²" becomes "m2"), changing what the article says.
    """
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    return text.translate(_UNICODE_CLEANER)


def clean_line(text: str) -> str:
    """One line of text: Unicode cleaned, runs of spaces collapsed, ends trimmed."""
    return _SPACES.sub(" ", clean_unicode(text).replace("\n", " ")).strip()


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
    """The text with any HTML tags, comments, scripts and styles in it removed.

    Plain text without markup comes back unchanged, so "a < b" or "AT&T" survive.
    """
    if "<" not in text:
        return text
    try:
        root = lxml_html.fragment_fromstring(text, create_parent="div")
    except (etree.ParserError, ValueError):
        return text
    if len(root) == 0:
        return text
    return _markup_tree_to_text(root)


def _looks_like_document(text: str) -> bool:
    return text.lstrip()[:15].lower().startswith(("<!doctype", "<html"))


def _is_markup_residue(line: str) -> bool:
    # A comment whose "<" was lost in scraping (the sample's "!-- Google tag (gtag.js) -->")
    # is no longer markup to a parser, so it reaches us as a line of text.
    return (
        line.startswith(("<!--", "!--", "-->"))
        or line.endswith("-->")
        or (line.startswith("<") and line.endswith(">"))
    )


def _date_in_line(line: str, languages: tuple[str, ...]) -> datetime | None:
    """The date a short head line states, when the line is (mostly) a date."""
    if not line or len(line) > _MAX_DATE_LINE_CHARS or not any(c.isdigit() for c in line):
        return None
    with _DATEPARSER_LOCK:
        try:
            parsed, found = _parse_date(line, languages)
        except ValueError:
            # A language dateparser does not know (a client's typo, say): English only.
            parsed, found = _parse_date(line, DEFAULT_DATE_LANGUAGES)
    if parsed is not None:
        return _as_utc(parsed)
    if not found:
        return None
    matched, value = found[0]
    if len(matched) < _DATE_LINE_COVERAGE * len(line):
        return None
    return _as_utc(value)


def _parse_date(
    line: str, languages: tuple[str, ...]
) -> tuple[datetime | None, list[tuple[str, datetime]] | None]:
    langs = list(languages)
    parsed = dateparser.parse(line, languages=langs, settings=_DATE_SETTINGS)
    if parsed is not None:
        return parsed, None
    return None, search_dates(line, languages=langs, settings=_DATE_SETTINGS)


def _as_utc(value: datetime) -> datetime:
    # A date without an offset is read as UTC: the documented rule for all published_at.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _is_title_like(line: str) -> bool:
    return (
        len(line) <= _MAX_TITLE_CHARS
        and len(line.split()) <= _MAX_TITLE_WORDS
        and not line.endswith((".", ",", ";", ":"))
    )


def _authors_from_byline(line: str) -> tuple[str, ...]:
    match = _BYLINE.match(line)
    if match is None:
        return ()
    return tuple(name for name in _AUTHOR_SPLIT.split(match["names"].strip()) if name)


def _paragraphs(text: str) -> list[list[str]]:
    """Blank-line separated paragraphs of cleaned, non-empty lines."""
    paragraphs: list[list[str]] = []
    current: list[str] = []
    for raw in text.split("\n"):
        line = _SPACES.sub(" ", raw).strip()
        if line:
            current.append(line)
        elif current:
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


def normalise_text(
    text: str,
    *,
    now: datetime | None = None,
    max_future: timedelta = timedelta(days=1),
    languages: tuple[str, ...] = DEFAULT_DATE_LANGUAGES,
) -> Normalised:
    """Clean scraped plain text; find headline, date line and byline in its first lines.

    trafilatura finds nothing in plain text, and dateparser's search over a whole article
    resolves phrases like "On Monday" against today, so the head (the paragraphs before the
    first long one) is read line by line: markup residue and photo credits are dropped, a
    line that is a full date (day, month, year) is the publication date, a lone short first
    paragraph is the headline (and a repeat of it is dropped), a "By …" line gives authors.
    """
    now = now or datetime.now(UTC)
    if _looks_like_document(text):
        return normalise_html(text, now=now, max_future=max_future)
    stripped = _strip_markup(clean_unicode(text))
    paragraphs = [
        [line for line in paragraph if not _is_markup_residue(line)]
        for paragraph in _paragraphs(stripped)
    ]
    paragraphs = [p for p in paragraphs if p]

    title: str | None = None
    published: datetime | None = None
    authors: tuple[str, ...] = ()
    body: list[list[str]] = []
    in_head = True
    for index, paragraph in enumerate(paragraphs):
        joined = " ".join(paragraph)
        if in_head and (len(joined) > _BODY_PARAGRAPH_CHARS or index >= _MAX_HEAD_PARAGRAPHS):
            in_head = False
        if not in_head:
            body.append(paragraph)
            continue
        kept: list[str] = []
        for line in paragraph:
            if title is not None and line.casefold() == title.casefold():
                continue
            if _CREDIT.search(line) and len(line) <= _MAX_TITLE_CHARS:
                continue
            if published is None:
                found = _date_in_line(line, languages)
                if found is not None:
                    published = found
                    continue
            if not authors:
                authors = _authors_from_byline(line)
                if authors:
                    continue
            kept.append(line)
        if (
            title is None
            and not body
            and len(kept) == 1
            and _is_title_like(kept[0])
            and index < len(paragraphs) - 1
        ):
            title = kept[0]
            continue
        if kept:
            body.append(kept)
    return Normalised(
        body="\n\n".join("\n".join(p) for p in body),
        title=title,
        published_at=_sane_date(published, now, max_future),
        authors=authors,
    )


def _html_date(html: str) -> datetime | None:
    found = htmldate.find_date(html, outputformat="%Y-%m-%dT%H:%M:%S%z", original_date=True)
    if not found:
        return None
    try:
        return _as_utc(datetime.fromisoformat(found))
    except ValueError:
        return None


def normalise_html(
    html: str, *, now: datetime | None = None, max_future: timedelta = timedelta(days=1)
) -> Normalised:
    """Extract the article from an HTML page or fragment with trafilatura and htmldate.

    Pages too small for trafilatura's main-content detection fall back to the markup's text
    (scripts, styles, comments and navigation removed), read like scraped text.
    """
    now = now or datetime.now(UTC)
    html = clean_unicode(html)
    document = trafilatura.bare_extraction(
        html, with_metadata=True, include_comments=False, include_tables=True
    )
    if not isinstance(document, Document):
        document = None
    extracted = str(document.text or "") if document is not None else ""
    if document is None or not extracted.strip():
        fallback = _markup_to_text_any(html)
        if _looks_like_document(fallback):
            # Unparseable markup: refuse to loop back into the HTML path.
            fallback = ""
        result = normalise_text(fallback, now=now, max_future=max_future)
        return Normalised(
            body=result.body,
            title=result.title or _html_title(html),
            published_at=result.published_at or _sane_date(_html_date(html), now, max_future),
            authors=result.authors,
        )
    title = clean_line(str(document.title)) if document.title else None
    lines = [clean_line(line) for line in extracted.split("\n")]
    lines = [line for line in lines if line and not _is_markup_residue(line)]
    if title and lines and lines[0].casefold() == title.casefold():
        lines = lines[1:]
    authors: tuple[str, ...] = ()
    if document.author:
        authors = tuple(a.strip() for a in str(document.author).split(";") if a.strip())
    return Normalised(
        body="\n\n".join(lines),
        title=title or None,
        published_at=_sane_date(_html_date(html), now, max_future),
        authors=authors,
    )


def _markup_to_text_any(html: str) -> str:
    try:
        if _looks_like_document(html):
            root = lxml_html.document_fromstring(html)
        else:
            root = lxml_html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return html
    return _markup_tree_to_text(root)


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
    languages: tuple[str, ...] = DEFAULT_DATE_LANGUAGES,
) -> Normalised:
    """Normalise `content` given as plain (possibly scraped) text or as HTML.

    `languages`: what dateparser tries on date lines (see `date_languages`).
    """
    if kind == "html":
        return normalise_html(content, now=now, max_future=max_future)
    return normalise_text(content, now=now, max_future=max_future, languages=languages)


def warm_up() -> None:
    """Load dateparser's language data (seconds on first use) before the first request."""
    normalise("text", "Headline\n\nSeptember 13, 2022\n\nBody text of the article.")
