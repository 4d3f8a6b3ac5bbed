"""Quotes: direct quotes from quote marks and reported speech, each linked to its speaker."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from newsflow_enrich.nlp.entities import (
    ParsedSegment,
    ResolvedEntity,
    SpacyToken,
)
from newsflow_enrich.nlp.lexicon import (
    GROUP_PRONOUNS,
    PERSON_PRONOUNS,
    ROLE_WORDS,
    SPEECH_VERBS,
)
from newsflow_schema import Quote, Span

_OPEN = "“„«‟"
_CLOSE = "”»"
_STRAIGHT = '"'
_SUBJECT_DEPS = frozenset({"nsubj", "nsubjpass"})
# "That being said": a demonstrative subject is no speaker.
_DEMONSTRATIVES = frozenset({"that", "this", "which", "what", "there"})
# Dependencies through which a cue verb inherits its subject: "…, adding, “…”", "warning that".
_CLIMB_DEPS = frozenset({"advcl", "xcomp", "conj", "ccomp", "dep", "parataxis", "acl", "pcomp"})
# "the 22-year-old said": an age standing for the person last in focus.
# Starts only at the first digit of a run, and never gives digits back: linear on long numbers.
_AGE_NOUN = re.compile(r"(?<!\d)\d++-year-old")
# How far back (characters) a pronoun looks for its antecedent among subjects.
_PRONOUN_WINDOW = 1200


@dataclass(frozen=True, slots=True)
class QuoteSpan:
    """The inside of a pair of quote marks, in body offsets; `open_end` if never closed."""

    start: int
    end: int
    open_end: bool = False


@dataclass(frozen=True, slots=True)
class Speaker:
    text: str
    span: tuple[int, int]
    entity: str | None


def find_quote_spans(text: str, base: int = 0) -> list[QuoteSpan]:
    """Pairs of double quote marks (straight or curly) in one paragraph.

    A quote left open at the paragraph's end runs to it: in news style a quote that continues
    into the next paragraph is not closed, and the next paragraph opens a new mark.
    """
    spans: list[QuoteSpan] = []
    start: int | None = None
    for i, ch in enumerate(text):
        if ch in _OPEN and start is None:
            start = i + 1
        elif ch in _CLOSE and start is not None:
            spans.append(QuoteSpan(start, i))
            start = None
        elif ch == _STRAIGHT:
            if start is None:
                start = i + 1
            else:
                spans.append(QuoteSpan(start, i))
                start = None
    if start is not None:
        spans.append(QuoteSpan(start, len(text), open_end=True))
    out: list[QuoteSpan] = []
    for q in spans:
        s, e = q.start, q.end
        while s < e and text[s].isspace():
            s += 1
        # The comma before the closing mark is punctuation of the attribution, not the quote.
        while e > s and (text[e - 1].isspace() or text[e - 1] == ","):
            e -= 1
        if e > s:
            out.append(QuoteSpan(base + s, base + e, q.open_end))
    return out


class _Linker:
    """Finds speakers for quotes in one document, using resolved entities for linking."""

    def __init__(self, body: str, entities: Sequence[ResolvedEntity]) -> None:
        self.body = body
        self.mentions: list[tuple[int, int, ResolvedEntity, bool]] = sorted(
            ((m.start, m.end, e, m.is_subject) for e in entities for m in e.mentions),
            key=lambda x: x[0],
        )
        self.quoted: list[tuple[int, int]] = []

    def in_quote(self, pos: int) -> bool:
        return any(s - 1 <= pos <= e for s, e in self.quoted)

    def entity_at(self, start: int, end: int) -> tuple[int, int, ResolvedEntity] | None:
        best: tuple[int, int, ResolvedEntity] | None = None
        for s, e, ent, _ in self.mentions:
            if s <= start and end <= e and (best is None or ent.label == "PERSON"):
                best = (s, e, ent)
        return best

    def previous(
        self, pos: int, labels: frozenset[str], role: str | None = None
    ) -> tuple[int, int, ResolvedEntity] | None:
        """The nearest compatible entity before pos, preferring grammatical subjects."""
        fallback: tuple[int, int, ResolvedEntity] | None = None
        for s, e, ent, subj in reversed(self.mentions):
            if s >= pos or ent.label not in labels or self.in_quote(s):
                continue
            if role is not None and role not in ent.roles:
                continue
            if fallback is None:
                fallback = (s, e, ent)
            if subj and pos - s <= _PRONOUN_WINDOW:
                return (s, e, ent)
        return fallback

    def resolve(self, tok: SpacyToken, base: int) -> Speaker:
        start = base + tok.idx
        end = start + len(tok.text)
        # The subject itself, its appositions ("spokesperson, X,") and name compounds.
        group = [tok, *[c for c in tok.children if c.dep_ in {"appos", "compound"}]]
        hits = [
            h
            for t in group
            if (h := self.entity_at(base + t.idx, base + t.idx + len(t.text))) is not None
        ]
        low = tok.lower_
        if hits:
            person = [h for h in hits if h[2].label == "PERSON"]
            s, e, ent = (person or hits)[0]
            if ent.label != "NORP":
                return Speaker(self.body[s:e], (s, e), ent.name)
            # "the Frenchwoman said": a demonym standing for the person last in focus.
            low = "she"
        if low in PERSON_PRONOUNS or _AGE_NOUN.fullmatch(low):
            found = self.previous(start, frozenset({"PERSON"}))
            return Speaker(tok.text, (start, end), found[2].name if found else None)
        if low in GROUP_PRONOUNS:
            found = self.previous(start, frozenset({"ORG"}))
            if found is not None and start - found[0] <= _PRONOUN_WINDOW // 2:
                return Speaker(tok.text, (start, end), found[2].name)
            return Speaker(tok.text, (start, end), None)
        # A role reference ("the spokesman said") names the person introduced with that role.
        has_definite = any(c.lower_ in {"the", "this", "that"} for c in tok.lefts)
        if low in ROLE_WORDS and has_definite:
            found = self.previous(start, frozenset({"PERSON"}), role=low)
            if found is not None:
                return Speaker(tok.text, (start, end), found[2].name)
        # An unnamed speaker: "the source", "another source", "officials".
        left = min(
            (c.idx for c in tok.lefts if c.dep_ in {"det", "amod", "compound"}), default=tok.idx
        )
        s = base + left
        return Speaker(self.body[s:end], (s, end), None)


def _according_to(cue: SpacyToken) -> SpacyToken | None:
    """The object of "according to"."""
    for child in cue.children:
        if child.lower_ == "to":
            for obj in child.children:
                if obj.dep_ == "pobj":
                    return obj
    return None


def _climb_for_subject(cue: SpacyToken, steps: int, cues_only: bool) -> SpacyToken | None:
    """Walk up the clause chain from the cue; the first own subject found (of a cue verb)."""
    tok = cue
    for _ in range(steps):
        if not cues_only or tok is cue or _is_cue(tok):
            subj = _own_subject(tok)
            if subj is not None:
                return subj
        if tok.dep_ in _CLIMB_DEPS and tok.head is not tok:
            tok = tok.head
        else:
            break
    return None


def _subject_of(cue: SpacyToken) -> SpacyToken | None:
    if cue.lower_ == "according":
        return _according_to(cue)
    # A participle cue ("…, adding, “…”", "warning that …") takes the subject of the speech
    # verb it hangs from, even across clauses between them.
    subj = _climb_for_subject(cue, 6, cues_only=True) or _climb_for_subject(cue, 4, cues_only=False)
    if subj is not None:
        return subj
    # Inverted attribution: "…,” said Smith.
    for child in cue.rights:
        if child.dep_ in {"dobj", "attr", "npadvmod"} and child.pos_ == "PROPN":
            return child
    return None


def _own_subject(tok: SpacyToken) -> SpacyToken | None:
    for child in tok.children:
        if child.dep_ in _SUBJECT_DEPS:
            if child.lower_ in _DEMONSTRATIVES:
                return None
            if child.lower_ == "who" and tok.dep_ == "relcl":
                # "X, who said …": the relative clause's noun is the speaker.
                return tok.head
            return child
    return None


def _is_cue(tok: SpacyToken) -> bool:
    if tok.lower_ == "according":
        return True
    return tok.lower_ in SPEECH_VERBS and tok.pos_ in {"VERB", "AUX"}


def extract_quotes(
    body: str,
    parsed: Sequence[ParsedSegment],
    entities: Sequence[ResolvedEntity],
    indirect: bool = True,
) -> list[Quote]:
    """Direct quotes with speakers (and reported speech as indirect quotes when asked)."""
    linker = _Linker(body, entities)
    per_segment: list[tuple[ParsedSegment, list[QuoteSpan]]] = []
    for ps in parsed:
        spans = find_quote_spans(ps.segment.nlp_text, ps.segment.start)
        per_segment.append((ps, spans))
        linker.quoted.extend((q.start, q.end) for q in spans)
    quotes: list[Quote] = []
    previous: tuple[Speaker | None, str | None, bool] = (None, None, False)
    for ps, spans in per_segment:
        if ps.segment.kind != "body":
            continue
        base = ps.segment.start
        doc = ps.doc
        cues = [t for t in doc if _is_cue(t) and not linker.in_quote(base + t.idx)]
        starts_with_quote = bool(spans) and spans[0].start - base <= 2
        for q in spans:
            rel_s, rel_e = q.start - base, q.end - base
            sents = [s for s in doc.sents if s.start_char < rel_e and s.end_char > rel_s]
            near = [c for c in cues if any(s.start <= c.i < s.end for s in sents)]
            speaker: Speaker | None = None
            cue_word: str | None = None
            for group in (near, cues):
                ordered = sorted(group, key=lambda c: _rank(c, rel_s, rel_e))
                for cue in ordered:
                    subj = _subject_of(cue)
                    if subj is not None and not linker.in_quote(base + subj.idx):
                        speaker = linker.resolve(subj, base)
                        cue_word = cue.text
                        break
                if speaker is not None:
                    break
            if speaker is None and (previous[2] or starts_with_quote) and previous[0]:
                # A paragraph of quote only continues the previous speaker.
                speaker, cue_word = previous[0], previous[1]
            quotes.append(
                Quote(
                    text=body[q.start : q.end],
                    span=Span(start=q.start, end=q.end),
                    kind="direct",
                    speaker=speaker.text if speaker else None,
                    speaker_entity=speaker.entity if speaker else None,
                    speaker_span=Span(start=speaker.span[0], end=speaker.span[1])
                    if speaker
                    else None,
                    cue=cue_word,
                )
            )
            previous = (speaker, cue_word, q.open_end)
        if indirect:
            quotes.extend(_indirect(body, ps, cues, linker))
    quotes.sort(key=lambda q: q.span.start)
    return quotes


def _rank(cue: SpacyToken, rel_s: int, rel_e: int) -> tuple[int, int]:
    """The cue whose own clause holds the quote first, the tightest such clause ("Though he
    admitted that they were “…”, he declared …" → admitted); otherwise the nearest cue."""
    subtree = list(cue.subtree)
    if any(rel_s <= t.idx < rel_e for t in subtree if t.i != cue.i):
        return (0, len(subtree))
    return (1, _distance(cue, rel_s, rel_e))


def _distance(cue: SpacyToken, rel_s: int, rel_e: int) -> int:
    at: int = cue.idx
    if at >= rel_e:
        return at - rel_e
    return max(0, rel_s - (at + len(cue.text)))


def _indirect(
    body: str, ps: ParsedSegment, cues: Sequence[SpacyToken], linker: _Linker
) -> list[Quote]:
    """Reported speech: a speech verb with a clausal complement and no quote marks in it."""
    base = ps.segment.start
    out: list[Quote] = []
    for cue in cues:
        comps = [c for c in cue.children if c.dep_ == "ccomp"]
        if not comps or cue.lower_ == "according":
            continue
        comp = comps[0]
        toks = [t for t in comp.subtree if not (t.dep_ == "mark" and t.i == comp.left_edge.i)]
        if len(toks) < 4:
            continue
        s = base + toks[0].idx
        e = base + toks[-1].idx + len(toks[-1].text)
        if any(qs - 1 <= e and s <= qe + 1 for qs, qe in linker.quoted):
            continue
        subj = _subject_of(cue)
        if subj is None:
            continue
        speaker = linker.resolve(subj, base)
        text = body[s:e].rstrip(" .,;")
        if not text:
            continue
        out.append(
            Quote(
                text=text,
                span=Span(start=s, end=s + len(text)),
                kind="indirect",
                speaker=speaker.text,
                speaker_entity=speaker.entity,
                speaker_span=Span(start=speaker.span[0], end=speaker.span[1]),
                cue=cue.text,
            )
        )
    return out
