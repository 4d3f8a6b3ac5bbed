"""The narrow rules that tell a head line is page furniture: byline, credit, date, markup."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dateparser

# Element names that make "<…>" a real tag; anything else ("<news@example.com>",
# "a < b > c") is text.
TAG_NAMES = (
    "a|abbr|address|article|aside|audio|b|blockquote|body|br|button|caption|center|cite|code|"
    "dd|del|details|div|dl|dt|em|embed|figcaption|figure|font|footer|form|h[1-6]|head|header|"
    "hr|html|i|iframe|img|input|ins|label|li|link|main|mark|meta|nav|noscript|object|ol|"
    "option|p|picture|pre|q|s|script|section|select|small|source|span|strong|style|sub|"
    "summary|sup|svg|table|tbody|td|template|textarea|tfoot|th|thead|time|title|tr|u|ul|video"
)
_REAL_TAG = re.compile(rf"<(?:/?(?:{TAG_NAMES})(?=[\s/>])[^<>]*>|!--|!doctype\b)", re.IGNORECASE)
_TAG_LINE = re.compile(rf"^</?(?:{TAG_NAMES})(?:\s[^<>]*)?/?>$", re.IGNORECASE)


def real_tag(text: str) -> re.Match[str] | None:
    return _REAL_TAG.search(text)


def is_markup_residue(line: str) -> bool:
    """A comment whose "<" was lost in scraping ("!-- Google tag -->"), or a lone tag."""
    return (
        line.startswith(("<!--", "!--", "-->"))
        or line.endswith("-->")
        or bool(_TAG_LINE.match(line))
    )


# --- bylines ---------------------------------------------------------------------------

_NAME_PARTICLES = frozenset(
    {"de", "da", "di", "del", "della", "der", "den", "van", "von", "le", "la", "du", "dos",
     "das", "bin", "al", "el", "ibn", "ter", "y"}
)  # fmt: skip
_AGENCIES = frozenset(
    {"reuters", "ap", "afp", "bloomberg", "xinhua", "pa", "ani", "pti", "efe", "dpa", "ansa",
     "upi", "tass", "kyodo", "yonhap", "aap", "cnn", "bbc"}
)  # fmt: skip
_ROLES = frozenset(
    {"staff", "writer", "reporter", "correspondent", "editor", "contributor", "desk", "news",
     "agencies", "agency", "newsroom", "team", "senior", "chief", "political", "special"}
)  # fmt: skip
_BYLINE_SPLIT = re.compile(r"\s*(?:,|;|&|\band\b|\bund\b|\bet\b)\s*", re.IGNORECASE)
_MAX_BYLINE_CHARS = 120


def _is_name_word(word: str) -> bool:
    core = word.rstrip(".")
    if not core or not core[0].isupper():
        return False
    return all(c.isalpha() or c in "'’-." for c in core)


def _is_name(part: str) -> bool:
    """Name-shaped: 1-5 capitalised words (particles such as "de" or "van" inside)."""
    words = part.split()
    if not 1 <= len(words) <= 5 or not (_is_name_word(words[0]) and _is_name_word(words[-1])):
        return False
    return all(w.lower() in _NAME_PARTICLES or _is_name_word(w) for w in words)


def _is_affiliation(part: str) -> bool:
    words = part.lower().rstrip(".").split()
    return bool(words) and all(w in _AGENCIES or w in _ROLES for w in words)


def authors_from_byline(line: str) -> tuple[str, ...] | None:
    """The names of a whole-line byline ("By Jane Doe", "By JANE DOE and John Roe, Reuters").

    None when the line is not a byline: every part after "By" must be name-shaped, and a
    lone name needs two words or a news agency's name, so "By contrast with last season"
    or "By Obama's assessment, …" stay text. Agencies and roles are not authors.
    """
    if len(line) > _MAX_BYLINE_CHARS or line[:3].lower() != "by " or any(c.isdigit() for c in line):
        return None
    parts = [p for p in _BYLINE_SPLIT.split(line[3:].strip()) if p]
    if not parts or not all(_is_name(p) or _is_affiliation(p) for p in parts):
        return None
    names = tuple(p for p in parts if not _is_affiliation(p))
    if len(parts) == 1 and not names:
        return ()  # "By Reuters", "By Staff Writer"
    if len(parts) == 1 and len(parts[0].split()) < 2:
        return None  # "By Tuesday", "By Monday"
    return names


# --- photo credits ---------------------------------------------------------------------

_CREDIT_SOURCES = (
    r"getty images|ap photo|afp photo|afp|reuters|ap|epa(?:-efe)?|shutterstock|alamy|"
    r"bloomberg|xinhua|pa images|pa|anadolu|sipa|imago|dpa|efe|istock"
)
_LABELLED_CREDIT = re.compile(
    r"^(?:file\s+)?(?:image|photo|photograph|picture|pic|video|credit|illustration)s?"
    r"(?:\s+(?:source|credit|by))?\s*[:|]\s*(?P<credit>.{1,80})$",
    re.IGNORECASE,
)
_PAREN_CREDIT = re.compile(
    rf"^\((?:{_CREDIT_SOURCES})(?:\s+photo)?(?:\s*/\s*[^()]{{1,80}})?\)$", re.IGNORECASE
)
_SOURCE_FIRST = re.compile(rf"^(?:{_CREDIT_SOURCES})\s*/\s*(?P<who>[^/]{{1,60}})$", re.IGNORECASE)
_SOURCE_LAST = re.compile(
    rf"^(?P<who>[^/]{{1,60}})\s*/\s*(?:{_CREDIT_SOURCES})(?:\s+via\s+getty\s+images)?$",
    re.IGNORECASE,
)
_BARE_SOURCE = re.compile(rf"^(?:{_CREDIT_SOURCES})(?:\s+via\s+getty\s+images)?$", re.IGNORECASE)
_MAX_CREDIT_WORDS = 8


def _is_short_credit(text: str) -> bool:
    words = text.split()
    return 0 < len(words) <= _MAX_CREDIT_WORDS and not text.rstrip().endswith((".", "!", "?"))


def is_credit(line: str) -> bool:
    """A whole short line that is a photo credit: "Photo: Getty Images", "(AP Photo/Name)",
    "Reuters/Name", "Name/AFP via Getty Images". A sentence that mentions Getty is not."""
    labelled = _LABELLED_CREDIT.match(line)
    if labelled is not None:
        return _is_short_credit(labelled["credit"])
    if _PAREN_CREDIT.match(line) or _BARE_SOURCE.match(line):
        return True
    for pattern in (_SOURCE_FIRST, _SOURCE_LAST):
        found = pattern.match(line)
        if found is not None:
            who = found["who"].strip()
            return _is_name(who) or who.lower() in ("file", "handout", "pool")
    return False


# --- page chrome: whole lines a site prints around every article ---------------------

_SOCIAL = (
    r"(?:facebook|twitter|x|linkedin|whatsapp|telegram|reddit|pinterest|email|e-mail|messenger)"
)
_SHARE_ITEM = (
    rf"(?:share(?: this(?: article| story| page)?)?(?: (?:on|via) {_SOCIAL})?|{_SOCIAL}|"
    r"tweet|print|copy link|save(?: article)?|comments?|follow us(?: on \w+)?|"
    r"share this with)"
)
_SHARE_LINE = re.compile(rf"^{_SHARE_ITEM}(?:\s*[|·•,/]?\s*{_SHARE_ITEM})*$", re.IGNORECASE)
_ADVERT = re.compile(
    r"^(?:advertisement|advert|sponsored(?: content)?|ad|"
    r"(?:story|article) continues below(?: this)? advert(?:isement)?|"
    r"skip (?:advert(?:isement)?|to (?:main )?content)|scroll to continue reading)$",
    re.IGNORECASE,
)
_CONSENT = re.compile(
    r"\b(?:accept(?: all)?|consent|cookie (?:policy|settings)|privacy policy|manage preferences)\b",
    re.IGNORECASE,
)
_COPYRIGHT = re.compile(
    r"^(?:©|\(c\)|copyright\s*(?:©|\(c\))?)\s*(?:\d{4}\b|.*\ball rights reserved\b)",
    re.IGNORECASE,
)
_COOKIE_BANNER_START = (
    "we use cookies",
    "this site uses cookies",
    "this website uses cookies",
    "we and our partners use cookies",
)
_ABOUT_THE_SITE = re.compile(r"\b(?:site|website|experience|browsing|content and ads)\b", re.I)
_MENU_MARKS = "|·•»›"
_MENU_SEPARATORS = re.compile(rf"\s+[{_MENU_MARKS}]\s+")
_MAX_MENU_ITEM_WORDS = 3
_MAX_CHROME_CHARS = 300


def _is_menu(line: str) -> bool:
    """Three or more short capitalised items between | · • » separators: a navigation bar."""
    if not ("|" in line or "·" in line or "•" in line or "»" in line or "›" in line):
        return False  # no separator (_MENU_MARKS), one item; cheaper than the split
    items = _MENU_SEPARATORS.split(line)
    if len(items) < 3:
        return False
    return all(
        item
        and item[0].isupper()
        and len(item.split()) <= _MAX_MENU_ITEM_WORDS
        and not item.endswith((".", "!", "?", ","))
        for item in items
    )


def is_page_chrome(line: str) -> bool:
    """A whole line of site furniture: navigation, share buttons, advert markers, a cookie
    banner, a copyright footer. "Share prices fell" or a sentence about cookies is text."""
    if len(line) > _MAX_CHROME_CHARS:
        return False
    if _SHARE_LINE.match(line) or _ADVERT.match(line) or _is_menu(line):
        return True
    if line.lower().startswith(_COOKIE_BANNER_START):
        return bool(_CONSENT.search(line) and _ABOUT_THE_SITE.search(line))
    return bool(_COPYRIGHT.match(line)) and len(line) <= 160


# --- date lines ------------------------------------------------------------------------

_DATE_LABEL = re.compile(
    r"^(?:(?:last\s+)?(?:published|updated|posted|modified|first\s+published)(?:\s+on)?|date)"
    r"\s*[:|\-–—]?\s*",
    re.IGNORECASE,
)
_YEAR = re.compile(r"(?<!\d)(?:1[89]\d\d|2\d\d\d)(?!\d)")
_NUMERIC_DATE = re.compile(r"(?<!\d)(\d{1,2})[./-](\d{1,2})[./-]\d{4}(?!\d)")
_RELATIVE = re.compile(
    r"\b(?:ago|yesterday|today|tomorrow|tonight|last|next|this|hours?|mins?|minutes?)\b",
    re.IGNORECASE,
)
_MAX_DATE_LINE_CHARS = 80
# Regions that write the month first; elsewhere (and in every other language) day first.
_MONTH_FIRST = frozenset({("en", "us"), ("en", "ph"), ("en", "fm"), ("en", "mh"), ("en", "pw")})
_YEAR_FIRST = frozenset({"zh", "ja", "ko", "hu", "lt", "mn"})
_DATE_SETTINGS: dict[str, Any] = {
    # Day, month and year are required: "Tuesday" alone is never resolved against today.
    "STRICT_PARSING": True,
    "REQUIRE_PARTS": ["day", "month", "year"],
    "TIMEZONE": "UTC",
    "RETURN_AS_TIMEZONE_AWARE": True,
}


@dataclass(frozen=True, slots=True)
class DateLine:
    """A head line that is a date; `value` None when its day/month order is ambiguous."""

    value: datetime | None


def date_order(language: str | None) -> str | None:
    """The numeric date order of a BCP 47 tag: DMY, MDY or YMD; None for bare "en"/none."""
    if not language:
        return None
    subtags = language.lower().split("-")
    primary = subtags[0]
    region = next((s for s in subtags[1:] if len(s) == 2 and s.isalpha()), None)
    if primary in _YEAR_FIRST:
        return "YMD"
    if (primary, region) in _MONTH_FIRST:
        return "MDY"
    if primary == "en" and region is None:
        return None
    return "DMY"


def _numeric_order(text: str, language: str | None) -> tuple[bool, str | None]:
    """(is numeric d/m/y, the order to read it in); order None when it cannot be told."""
    found = _NUMERIC_DATE.search(text)
    if found is None:
        return False, date_order(language)
    first, second = int(found[1]), int(found[2])
    order = date_order(language)
    if order in ("DMY", "MDY"):
        return True, order
    if first > 12 >= second:
        return True, "DMY"
    if second > 12 >= first:
        return True, "MDY"
    return True, "DMY" if first == second else None


def _languages(language: str | None) -> list[str]:
    primary = (language or "").split("-")[0].lower()
    return [primary, "en"] if primary and primary != "en" else ["en"]


def _parse(text: str, language: str | None, order: str | None) -> datetime | None:
    settings = dict(_DATE_SETTINGS, DATE_ORDER=order or "DMY")
    try:
        value = dateparser.parse(text, languages=_languages(language), settings=settings)
    except ValueError:
        # A language dateparser does not know (a client's typo, say): English only.
        value = dateparser.parse(text, languages=["en"], settings=settings)
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def date_line(line: str, language: str | None) -> DateLine | None:
    """The date of a line that is wholly an absolute date/time, with an optional label.

    "Published: 4 Apr 2024 09:15 GMT", "13. September 2022", "2024-03-04". A date inside a
    sentence ("Rain fell on 3 March 2024.") or a relative one ("12 hours ago") is not a
    date line. Numeric dates are read in the order of the article's language and region;
    without one, 03/04/2024 is ambiguous: the line is a date line without a value.
    Not thread-safe (dateparser): callers serialise.
    """
    if len(line) > _MAX_DATE_LINE_CHARS or _YEAR.search(line) is None:
        return None
    text = _DATE_LABEL.sub("", line, count=1)
    if _RELATIVE.search(text) or text.endswith((".", "!", "?")) and not text[-2:-1].isalpha():
        return None
    numeric, order = _numeric_order(text, language)
    value = _parse(text, language, order or "DMY")
    if value is None:
        return None
    return DateLine(None if numeric and order is None else value)
