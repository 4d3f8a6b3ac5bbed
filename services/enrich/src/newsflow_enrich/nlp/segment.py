"""Splitting a stored body into typed segments (headline, dek, date line, credit, body)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

SegmentKind = Literal["junk", "headline", "dek", "dateline", "credit", "body"]

# Kinds that carry prose worth running NLP on; date lines, credits and markup junk only add
# false entities ("AP PHOTO" as an ORG).
NLP_KINDS: frozenset[SegmentKind] = frozenset({"headline", "dek", "body"})

_LINE = re.compile(r"[^\n]+")
_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_WEEKDAYS = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
# A line that is nothing but a date (and maybe a time or "Updated"/"Published").
_DATELINE = re.compile(
    rf"^(?:(?:updated|published|posted|last updated)\s*:?\s*)?(?:{_WEEKDAYS},?\s+)?"
    rf"(?:{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}\s+{_MONTHS},?\s+\d{{4}}|"
    r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4})"
    r"(?:[,\s]+(?:at\s+)?\d{1,2}[:.]\d{2}(?:\s*[ap]\.?m\.?)?(?:\s+[A-Z]{2,4})?)?\.?$",
    re.IGNORECASE,
)
_CREDIT = re.compile(
    r"^(?:image|photo|picture|video|graphic)s?\s*(?:source|credit|courtesy)?\s*[:|/-]|"
    r"^(?:image|photo|picture)\s+(?:source|credit)\b|"
    r"\b(?:getty images|ap photo|afp photo|reuters/|shutterstock|file photo)\b",
    re.IGNORECASE,
)
# A tag may not contain "<": a run of "<" without ">" is then scanned once, not once per "<".
_MARKUP = re.compile(r"<[^<>]*>|<!--|-->|!--|\{|\}|\bgtag\b|\bwindow\.|function\s*\(|=\s*[\"']")
# Small words that stay lower case when a capitalised line is re-cased.
_SMALL_WORDS = frozenset(
    "a an and as at but by for from in into nor of on or per the to vs via with".split()
)
_CAPS_WORD = re.compile(r"[A-Za-z][A-Za-z'’.\-]*")
# A score: a small number standing alone, not a piece of a date ("1996-08-24") or a time.
_SCORE = re.compile(r"(?<![\w\-/:.])\d{1,3}(?![\w\-/:.])")
# A wire date line opening a paragraph: "KYIV, Ukraine (AP) —", "LONDON, March 3 (Reuters) -".
_WIRE_DATELINE = re.compile(r"^([A-Z][A-Z'’.\- ]*[A-Z])(?=\s*(?:,|\(|[—–-]))")


@dataclass(frozen=True, slots=True)
class Segment:
    """A line of the body: [start, end) into it, its kind, and the text NLP should read.

    `nlp_text` has the same length as the span, so offsets carry over unchanged.
    """

    start: int
    end: int
    kind: SegmentKind
    nlp_text: str


def _is_caps(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 4 and sum(c.isupper() for c in letters) / len(letters) > 0.8


def _recase_word(word: str, first: bool) -> str:
    lower = word.lower()
    if not first and lower in _SMALL_WORDS:
        return lower
    return word[0].upper() + lower[1:]


def recase_caps(text: str) -> str:
    """Title-case a line written in capitals, keeping its length (so offsets stay valid)."""
    out = list(text)
    for i, m in enumerate(_CAPS_WORD.finditer(text)):
        word = m.group()
        # Initialisms with dots ("U.S.") stay as they are.
        if "." in word.rstrip("."):
            continue
        new = _recase_word(word, first=i == 0)
        if len(new) == len(word):
            out[m.start() : m.end()] = new
    return "".join(out)


def recase_wire_dateline(text: str) -> str:
    """Re-case a capitalised wire date line at the start of a paragraph ("KYIV, Ukraine (AP)")."""
    m = _WIRE_DATELINE.match(text)
    if m is None or len(m.group(1)) < 3 or not any(c.isalpha() for c in m.group(1)):
        return text
    return recase_caps(m.group(1)) + text[m.end(1) :]


def _word_count(text: str) -> int:
    return len(text.split())


def _classify(text: str, seen_body: bool, seen_headline: bool) -> SegmentKind:
    if _MARKUP.search(text) and sum(c.isalpha() for c in text) < 0.8 * len(text):
        return "junk"
    if _DATELINE.match(text):
        return "dateline"
    if _word_count(text) <= 14 and _CREDIT.search(text):
        return "credit"
    if seen_body:
        return "body"
    words = _word_count(text)
    ends_sentence = text.rstrip("\"'”’)").endswith((".", "?", "!", ":"))
    if words <= 25 and not ends_sentence:
        return "headline"
    if seen_headline and words <= 45 and ends_sentence and not _looks_like_lead(text):
        return "dek"
    return "body"


def _looks_like_lead(text: str) -> bool:
    # A body's first paragraph usually opens with a wire date line or an adverbial of time
    # and runs to several sentences; a dek is one sentence.
    return bool(_WIRE_DATELINE.match(text)) or text.count(". ") >= 1


def segment(body: str) -> list[Segment]:
    """Split the body at line breaks and type each line; no segment crosses a break.

    Lines before the first body paragraph are the article's head (headline, dek, date line,
    photo credit, markup junk); once a body paragraph is seen, every later line is body
    except date lines and credits.
    """
    segments: list[Segment] = []
    seen_body = False
    seen_dek = False
    seen_headline = False
    for m in _LINE.finditer(body):
        raw = m.group()
        stripped = raw.strip()
        if not stripped:
            continue
        start = m.start() + (len(raw) - len(raw.lstrip()))
        end = start + len(stripped)
        kind = _classify(stripped, seen_body, seen_headline)
        seen_headline = seen_headline or kind == "headline"
        if kind == "dek":
            if seen_dek:
                kind = "body"
            seen_dek = True
        if kind == "body":
            seen_body = True
        nlp_text = stripped
        if kind in NLP_KINDS and _is_caps(stripped):
            nlp_text = recase_caps(stripped)
        elif kind == "body":
            nlp_text = recase_wire_dateline(stripped)
        segments.append(Segment(start=start, end=end, kind=kind, nlp_text=nlp_text))
    return _sentence_case_heads(segments)


def proper_vocabulary(texts: list[str]) -> set[str]:
    """Words the body capitalises inside sentences: the article's own proper nouns."""
    vocab: set[str] = set()
    for text in texts:
        for m in _CAPS_WORD.finditer(text):
            word = m.group()
            if not word[0].isupper():
                continue
            before = text[: m.start()].rstrip(" \"'“‘«([")
            if before and before[-1] not in ".!?:":
                vocab.add(word.rstrip(".").casefold())
    return vocab


def sentence_case(text: str, vocabulary: set[str]) -> str:
    """Lower-case the capitalised words of a title-cased line that the body does not capitalise.

    Headlines capitalise every word, which makes NER read "Skyvale Cancels 300" as a name;
    the body shows which words are really proper nouns. Same length, so offsets carry over.
    """
    out = list(text)
    for i, m in enumerate(_CAPS_WORD.finditer(text)):
        word = m.group()
        if i == 0 or not word[0].isupper() or word.rstrip(".").casefold() in vocabulary:
            continue
        if len(word) > 1 and word[1:].isupper():
            continue  # an acronym
        out[m.start()] = word[0].lower()
    return "".join(out)


def _title_cased(text: str) -> bool:
    words = [w for w in _CAPS_WORD.findall(text) if w.lower() not in _SMALL_WORDS]
    return len(words) >= 3 and sum(w[0].isupper() for w in words) / len(words) > 0.7


def _scores(text: str) -> bool:
    """Two or more small standalone numbers on a short line: results or standings."""
    return len(_SCORE.findall(text)) >= 2 and _word_count(text) <= 30


def _sentence_case_heads(segments: list[Segment]) -> list[Segment]:
    vocabulary = proper_vocabulary([s.nlp_text for s in segments if s.kind == "body"])
    if not vocabulary:
        return segments
    out: list[Segment] = []
    for s in segments:
        # A results line ("Leeds United 3 Aston Villa 1") is names, whatever the body says.
        if s.kind in ("headline", "dek") and _title_cased(s.nlp_text) and not _scores(s.nlp_text):
            s = Segment(s.start, s.end, s.kind, sentence_case(s.nlp_text, vocabulary))
        out.append(s)
    return out
