"""Entity resolution: repaired spans, merged mentions, one label and a salience per entity."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from newsflow_enrich.nlp.lexicon import (
    ORG_NOUNS,
    ORG_WORDS,
    PLACE_HEADS,
    PLACE_OF_WORDS,
    PLACE_PREPOSITIONS,
    PLACE_WORDS,
    ROLE_MODIFIERS,
    ROLE_WORDS,
)
from newsflow_enrich.nlp.segment import Segment
from newsflow_schema import Entity, Mention

# spaCy Doc/Span/Token: spaCy ships no type stubs.
SpacyDoc = Any
SpacySpan = Any
SpacyToken = Any

NAME_LABELS: frozenset[str] = frozenset(
    {
        "PERSON",
        "NORP",
        "FAC",
        "ORG",
        "GPE",
        "LOC",
        "PRODUCT",
        "EVENT",
        "WORK_OF_ART",
        "LAW",
        "LANGUAGE",
    }
)
PLACE_LABELS: frozenset[str] = frozenset({"GPE", "LOC", "FAC"})
# Kinds NER tells apart from places well: a preposition before them is no place evidence.
NOT_PLACE_LABELS: frozenset[str] = frozenset(
    {"NORP", "LANGUAGE", "EVENT", "LAW", "WORK_OF_ART", "PRODUCT"}
)
# Titles keep their small words: "A Beautiful Lie", "J'ai confiance en toi".
TITLE_LABELS: frozenset[str] = frozenset({"WORK_OF_ART", "EVENT", "LAW"})
# Tie-break order when votes are equal.
_LABEL_PRIORITY = (
    "PERSON",
    "ORG",
    "GPE",
    "LOC",
    "NORP",
    "FAC",
    "EVENT",
    "PRODUCT",
    "LAW",
    "LANGUAGE",
    "WORK_OF_ART",
)

# Evidence weights: NER's own label is one vote per mention; textual evidence outweighs it.
W_NER = 1.0
W_ROLE = 3.0
W_APPOS = 3.0
W_ORG_WORD = 2.0
W_PLACE_WORD = 2.0
W_PLACE_PREP = 1.5
W_MODIFIER = 1.0
W_PLACE_OF = 1.5
W_CONJ = 2.0
W_DATELINE = 3.0
W_RESULTS = 2.0

_SUBJECT_DEPS = frozenset({"nsubj", "nsubjpass"})
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'"})
_SPACES = re.compile(r"\s+")
_HYPHEN_PREFIX = re.compile(r"^[a-z]+-", re.UNICODE)
# A wire slug opening a headline in capitals: "SOCCER - JAPAN GET LUCKY WIN": a topic, not a name.
_SLUG = re.compile(r"(?<![A-Z&/])[A-Z][A-Z&/]{2,}+(?: [A-Z][A-Z&/]{2,}+)? [-–—] ")


@dataclass(frozen=True, slots=True)
class ParsedSegment:
    """A segment and the spaCy doc of its `nlp_text` (token offsets + segment.start = body)."""

    segment: Segment
    doc: SpacyDoc


@dataclass(slots=True)
class Candidate:
    """One mention before clustering, with the evidence gathered for its label."""

    start: int
    end: int
    text: str
    display: str
    tokens: tuple[str, ...]
    seg_kind: str
    votes: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    is_subject: bool = False
    roles: set[str] = field(default_factory=set)
    # Textual evidence that the mention is a place (not NER's label): blocks name merging.
    place_evidence: float = 0.0
    # The label NER gave the span, if any: discounted when the mention is a short form.
    ner_label: str | None = None

    @property
    def key(self) -> str:
        return " ".join(self.tokens)


@dataclass(slots=True)
class ResolvedEntity:
    """An entity of one document: its canonical name, label and mentions (body offsets)."""

    name: str
    label: str
    mentions: list[Candidate]
    roles: set[str]
    salience: float = 0.0

    def to_schema(self, body: str) -> Entity:
        mentions = tuple(
            Mention(start=m.start, end=m.end, text=body[m.start : m.end])
            for m in sorted(self.mentions, key=lambda m: m.start)
        )
        return Entity(
            name=self.name,
            label=self.label,
            mentions=mentions,
            mention_count=len(mentions),
            salience=self.salience,
        )


def normalise_tokens(text: str) -> tuple[str, ...]:
    """Casefolded words of a name, without a leading article or a trailing possessive."""
    text = _SPACES.sub(" ", text.translate(_APOSTROPHES)).strip().casefold()
    if text.endswith("'s"):
        text = text[:-2]
    elif text.endswith("'"):
        text = text[:-1]
    words = text.split()
    while words and words[0] in {"the", "a", "an"}:
        words = words[1:]
    return tuple(words)


def _is_name_token(tok: SpacyToken) -> bool:
    return bool(tok.is_title or (tok.is_upper and len(tok) > 1)) and tok.pos_ in {"PROPN", "NOUN"}


def _role_run_before(doc: SpacyDoc, i: int) -> list[str]:
    """Role/title words right before token i ("Ukrainian President", "Deputy Prime Minister")."""
    roles: list[str] = []
    j = i - 1
    while j >= 0 and doc[j].lower_ in ROLE_WORDS | ROLE_MODIFIERS:
        roles.append(doc[j].lower_)
        j -= 1
    return roles if any(r in ROLE_WORDS for r in roles) else []


def _is_role_start(doc: SpacyDoc, i: int, end: int) -> bool:
    """Token i starts a role run that is followed, before `end`, by a capitalised name."""
    j = i
    saw_role = False
    while j < end and doc[j].lower_ in ROLE_WORDS | ROLE_MODIFIERS:
        saw_role = saw_role or doc[j].lower_ in ROLE_WORDS
        j += 1
    return saw_role and j < end and _is_name_token(doc[j])


class _Collector:
    """Gathers candidates from one segment's doc, repairing spans and recording evidence."""

    def __init__(self, body: str, ps: ParsedSegment) -> None:
        self.body = body
        self.ps = ps
        self.doc = ps.doc
        self.base = ps.segment.start
        self.out: list[Candidate] = []
        self.taken: set[int] = set()
        slug = _SLUG.match(body, self.base, ps.segment.end)
        if slug is not None and not any(c.islower() for c in body[slug.end() : ps.segment.end]):
            # Reserve the slug's tokens so that no candidate is made of them.
            words_end = slug.end() - self.base - 3
            self.taken.update(t.i for t in self.doc if t.idx < words_end)
        # A short line with several small standalone numbers: results or standings.
        self.results_line = sum(map(_is_score, self.doc)) >= 2 and len(self.doc) <= 40

    def add(
        self, start: int, end: int, label: str | None, weight: float, trim: bool = True
    ) -> Candidate | None:
        doc = self.doc
        # Trim articles, lower-case words and punctuation at either end ("the", "northern",
        # "region", a possessive): names are capitalised, and OntoNotes spans exclude them.
        while (
            trim
            and start < end
            and (
                # "A-League" starts with a letter, not an article.
                (doc[start].lower_ in {"the", "a", "an"} and bool(doc[start].whitespace_))
                or doc[start].is_punct
                # "98th": a lower-case word, but part of the name ("98th PVI").
                or (doc[start].is_lower and doc[start].is_alpha)
                # "Automaker Halvorsen Motors" at a sentence start: the kind, not the name.
                or (doc[start].lower_ in ORG_NOUNS and end - start > 1)
            )
        ):
            start += 1
        # A date is never part of a name ("Ankara 1996-12-06"), nor is a score on a results
        # line ("Everton 2"); a number elsewhere may be ("Apollo 11").
        while start < end and _numeric(doc[start], self.results_line):
            start += 1
        while end > start and (
            _numeric(doc[end - 1], self.results_line)
            or doc[end - 1].tag_ == "POS"
            or doc[end - 1].lower_ in {"'s", "’s", "'", "’"}
            or doc[end - 1].is_punct
            or doc[end - 1].is_space
            or (trim and doc[end - 1].is_lower and doc[end - 1].is_alpha)
        ):
            end -= 1
        if start >= end or any(i in self.taken for i in range(start, end)):
            return None
        span = doc[start:end]
        if all(t.lower_ in ROLE_WORDS | ROLE_MODIFIERS for t in span):
            # "Health" of "Health Secretary X": part of a title, not a name.
            return None
        seg_text: str = self.ps.segment.nlp_text
        c_start = self.base + span.start_char
        c_end = self.base + span.end_char
        display = _SPACES.sub(" ", seg_text[span.start_char : span.end_char])
        tokens = normalise_tokens(display)
        if not tokens or not any(ch.isupper() for ch in display):
            return None
        cand = Candidate(
            start=c_start,
            end=c_end,
            text=self.body[c_start:c_end],
            display=display,
            tokens=tokens,
            seg_kind=self.ps.segment.kind,
        )
        if label is not None:
            cand.votes[label] += weight
            if weight == W_NER:
                cand.ner_label = label
        self._evidence(cand, span, label)
        self.taken.update(range(start, end))
        self.out.append(cand)
        return cand

    def _place(self, cand: Candidate, label: str | None, weight: float) -> None:
        cand.votes[label if label in PLACE_LABELS else "GPE"] += weight
        cand.place_evidence += weight

    def _evidence(self, cand: Candidate, span: SpacySpan, label: str | None) -> None:
        followed_by_role = span.end < len(self.doc) and self.doc[span.end].lower_ in ROLE_WORDS
        self._role_evidence(cand, span, followed_by_role)
        self._word_evidence(cand, span)
        self._place_evidence(cand, span, label)
        self._results_evidence(cand, span, label)
        # A name right before a role word modifies the person ("Kherson chief X"), so it is
        # not the person: move NER's PERSON vote to a place.
        if followed_by_role and cand.votes["PERSON"] > 0:
            cand.votes["PERSON"] -= W_NER
            cand.votes["GPE"] += W_MODIFIER

    def _role_evidence(self, cand: Candidate, span: SpacySpan, followed_by_role: bool) -> None:
        doc = self.doc
        roles = _role_run_before(doc, span.start)
        if roles and not followed_by_role:
            cand.votes["PERSON"] += W_ROLE
            cand.roles.update(r for r in roles if r in ROLE_WORDS)
        root = span.root
        # Appositions: "X, a senior lawmaker" and "the spokesperson, X,"; "Y, the start-up".
        linked = [c for c in root.children if c.dep_ == "appos"]
        if root.dep_ == "appos":
            linked.append(root.head)
        for other in linked:
            if other.lower_ in ROLE_WORDS:
                cand.votes["PERSON"] += W_APPOS
                cand.roles.add(other.lower_)
            elif other.lower_ in ORG_NOUNS:
                cand.votes["ORG"] += W_APPOS
        # "the newspaper X" / "X newspaper": a kind-of-organisation noun compounded with it.
        compounds = [c for c in root.children if c.dep_ == "compound" and c.i < span.start]
        if root.dep_ == "compound":
            compounds.append(root.head)
        if any(c.lower_ in ORG_NOUNS for c in compounds):
            cand.votes["ORG"] += W_APPOS
        if span.start > 0 and doc[span.start - 1].lower_ in ORG_NOUNS and not compounds:
            cand.votes["ORG"] += W_APPOS

    def _word_evidence(self, cand: Candidate, span: SpacySpan) -> None:
        doc = self.doc
        subject = span.root
        while subject.dep_ in {"appos", "compound"} and subject.head is not subject:
            subject = subject.head
        cand.is_subject = subject.dep_ in _SUBJECT_DEPS
        # NER's GPE stands against an organisation word ("Soviet Union", "United Kingdom").
        if _org_headed(cand.tokens) and cand.ner_label != "GPE":
            cand.votes["ORG"] += W_ORG_WORD
        # A place word heads the name ("Dnipro River", "Gulf of Mexico", "Kharkiv region"),
        # not inside another kind's ("Tampa Bay Devil Rays").
        headed = cand.tokens[-1] in PLACE_WORDS or cand.tokens[0] in PLACE_WORDS
        if headed or (span.end < len(doc) and doc[span.end].lower_ in PLACE_WORDS):
            cand.votes["LOC"] += W_PLACE_WORD
            cand.place_evidence += W_PLACE_WORD
        if len(cand.tokens) == 1 and cand.tokens[0].endswith(("man", "woman", "men", "women")):
            # "the Frenchwoman": a demonym noun for a person, not an organisation.
            cand.votes["NORP"] += W_ORG_WORD

    def _results_evidence(self, cand: Candidate, span: SpacySpan, label: str | None) -> None:
        """On a results or standings line a name followed by a score is a team ("Everton 2
        Arsenal 1") or, named in full as a person, a player ("Tiger Woods 68 70")."""
        doc = self.doc
        if not self.results_line or span.end >= len(doc) or not _is_score(doc[span.end]):
            return
        person = label == "PERSON" and len(span) > 1 and not _org_headed(cand.tokens)
        kind = "PERSON" if person else "ORG"
        cand.votes[kind] += W_RESULTS

    def _place_evidence(self, cand: Candidate, span: SpacySpan, label: str | None) -> None:
        doc = self.doc
        root = span.root
        before = span.start - 1
        # "in the British Commonwealth of Nations": NER's ORG behind an article stands.
        org_after_article = label == "ORG" and before >= 0 and doc[before].lower_ == "the"
        if before >= 0 and doc[before].lower_ == "the":
            before -= 1
        possessive = span.end < len(doc) and doc[span.end].tag_ == "POS"
        # "in The Lancet": a capitalised article inside a sentence belongs to a title.
        titled = span.start > 1 and doc[span.start - 1].text == "The"
        # "in English", "in the NHL", "in Judaism": NER's kind of thing, not a place.
        not_a_place = (
            label in NOT_PLACE_LABELS
            or (label == "ORG" and span.text.isupper())
            or org_after_article
        )
        if before >= 0 and not possessive and not titled and not not_a_place:
            prev = doc[before].lower_
            if prev in PLACE_PREPOSITIONS:
                self._place(cand, label, W_PLACE_PREP)
            elif prev == "of" and before > 0 and doc[before - 1].lower_ in PLACE_OF_WORDS:
                self._place(cand, label, W_PLACE_OF)
        # Conjuncts share a type: "in Kenya, Ghana and Malawi".
        # NER's own PERSON or ORG of a name of several words outweighs a neighbour's type
        # ("Kanye West, P. Diddy"); a one-word name takes it ("Kenya, Ghana and Malawi").
        if (
            root.dep_ == "conj"
            and root.head.ent_type_ in PLACE_LABELS
            and (label not in {"PERSON", "ORG"} or len(span) == 1)
        ):
            self._place(cand, label if label in PLACE_LABELS else root.head.ent_type_, W_CONJ)
        elif root.dep_ == "conj" and root.head.ent_type_ == "PERSON" and label == "PERSON":
            cand.votes["PERSON"] += W_CONJ
        # A wire date line: "OSLO —", "MANILA, Philippines (AP) —" opens with a place.
        raw = self.body[cand.start : cand.end]
        if span.start == 0 and raw.isupper() and len(raw) > 2 and span.end < len(doc):
            if doc[span.end].text in {",", "—", "–", "-", "--", "("}:
                self._place(cand, label, W_DATELINE)

    def collect(self) -> list[Candidate]:
        ents = [e for e in self.doc.ents if e.label_ in NAME_LABELS]
        self._dateline_place()
        # Role-introduced names first, so they win over NER spans that swallow them.
        for i, tok in enumerate(self.doc):
            low = tok.lower_
            if low in ROLE_WORDS:
                self._after_role(i, ents)
            elif low in ORG_NOUNS:
                self._after_org_noun(i, ents)
        self._role_appositions(ents)
        if self.results_line:
            self._results_names(ents)
        for ent in ents:
            self._add_ent(ent)
        return self.out

    def _results_names(self, ents: Sequence[SpacySpan]) -> None:
        """The names before the scores of a results line, whole even where NER split or
        missed them ("Arsenal 1 Chelsea 1", "Aston Villa"): teams, or players."""
        doc = self.doc
        for i, tok in enumerate(doc):
            if not _is_score(tok):
                continue
            j = i
            while j > 0 and i - j < 4 and _is_name_token(doc[j - 1]) and (j - 1) not in self.taken:
                j -= 1
            if j < i:
                person = any(e.label_ == "PERSON" and e.start < i and j < e.end for e in ents)
                self.add(j, i, "PERSON" if person else None, W_NER if person else 0.0)

    def _dateline_place(self) -> None:
        """A wire date line's place, which NER often misses once re-cased ("AREQUIPA, Peru")."""
        doc = self.doc
        raw_start = self.body[self.base : self.base + 40]
        if doc and raw_start[:3].isupper():
            k = 0
            while k < len(doc) and doc[k].is_title and k < 4:
                k += 1
            # "AREQUIPA, Peru", "OSLO —", or a CoNLL-style "LONDON 1996-08-24".
            marks = {",", "(", "—", "–", "-", "--"}
            if 0 < k < len(doc) and (doc[k].text in marks or _numeric(doc[k], False)):
                self.add(0, k, "GPE", W_DATELINE)

    def _after_org_noun(self, i: int, ents: Sequence[SpacySpan]) -> None:
        """ "the newspaper X", "rail operator X": an organisation named after its kind."""
        doc = self.doc
        j = i + 1
        k = j
        while k < len(doc) and k - j < 4 and _is_name_token(doc[k]):
            k += 1
        if (
            k > j
            and (k == len(doc) or doc[k].lower_ not in ROLE_WORDS)
            and not any(e.start <= j < e.end for e in ents)
        ):
            self.add(j, k, "ORG", W_APPOS)

    def _after_role(self, i: int, ents: Sequence[SpacySpan]) -> None:
        """ "spokesman Dmitry Peskov": the name after a role run is a person."""
        doc = self.doc
        j = i + 1
        while j < len(doc) and doc[j].lower_ in ROLE_WORDS | ROLE_MODIFIERS:
            j += 1
        k = j
        while k < len(doc) and k - j < 4 and _is_name_token(doc[k]):
            if doc[k].lower_ in ROLE_WORDS | ORG_WORDS:
                break
            k += 1
        # A name followed by another role word modifies it ("deputy Kherson chief X").
        modifier = k < len(doc) and doc[k].lower_ in ROLE_WORDS | ROLE_MODIFIERS
        # "King County", "Queen's College": the role word is part of a place's name.
        place = k > j and doc[k - 1].lower_ in PLACE_WORDS | ORG_WORDS | PLACE_HEADS
        if k > j and not modifier and not place and not _covered_by_person(ents, j, k):
            self.add(j, k, "PERSON", W_ROLE)

    def _role_appositions(self, ents: Sequence[SpacySpan]) -> None:
        """Apposition to a role noun: "the spokesperson for the brigade, X Y, said"."""
        doc = self.doc
        for tok in doc:
            if tok.dep_ == "appos" and tok.pos_ == "PROPN" and tok.head.lower_ in ROLE_WORDS:
                start = tok.i
                while (
                    start > 0
                    and doc[start - 1].dep_ == "compound"
                    and _is_name_token(doc[start - 1])
                ):
                    start -= 1
                if not _covered_by_person(ents, start, tok.i + 1):
                    self.add(start, tok.i + 1, "PERSON", W_APPOS)

    def _add_ent(self, ent: SpacySpan) -> None:
        doc = self.doc
        start, end, label = ent.start, ent.end, ent.label_
        text = ent.text
        if label == "LANGUAGE" and ent.root.dep_ in {"amod", "compound"}:
            # "English premier league": a nationality adjective, not the language.
            label = "NORP"
        if _HYPHEN_PREFIX.match(text):
            # "pro-Kremlin", "anti-war": an affiliation adjective, not the entity itself.
            self.add(start, end, "NORP", W_NER, trim=False)
            return
        # A number inside a span joins two names ("Harbour City 2 Westbrook Rovers 1").
        for i in range(start + 1, end - 1):
            if doc[i].is_digit and doc[i - 1].is_title and doc[i + 1].is_title:
                self.add(start, i, label, W_NER)
                self.add(i + 1, end, label, W_NER)
                return
        # A role run inside the span splits it: "Kharkiv Governor Oleh Syniehubov"; not a
        # place or an organisation named with a role word ("King County", "Queen's College").
        headed = doc[end - 1].lower_ in PLACE_WORDS | ORG_WORDS | PLACE_HEADS
        for i in range(start, end if not headed else start):
            if doc[i].lower_ in ROLE_WORDS and _is_role_start(doc, i, end):
                j = i
                while j < end and doc[j].lower_ in ROLE_WORDS | ROLE_MODIFIERS:
                    j += 1
                # Trailing modifiers belong to the role ("Deputy Prime Minister").
                k = i
                while k > start and doc[k - 1].lower_ in ROLE_MODIFIERS:
                    k -= 1
                if k > start:
                    self.add(start, k, None, 0.0)
                self.add(j, end, "PERSON", W_ROLE)
                return
        self.add(start, end, label, W_NER, trim=label not in TITLE_LABELS)


def _is_score(tok: SpacyToken) -> bool:
    """A small standalone number, as in results and standings, not a piece of a date."""
    return bool(tok.is_digit and len(tok.text) <= 3 and not _in_iso_date(tok))


def _org_headed(tokens: Sequence[str]) -> bool:
    """An organisation word heads the name: last ("Labour Party") or before "of" ("Bank of
    England"); not a first word of a place ("United States", "United Kingdom")."""
    if not tokens:
        return False
    if tokens[-1] in ORG_WORDS:
        return True
    return any(w in ORG_WORDS and nxt == "of" for w, nxt in zip(tokens, tokens[1:], strict=False))


def _numeric(tok: SpacyToken, scores: bool) -> bool:
    """A date token (digits joined by "-" or "/"), or with `scores` any number."""
    text: str = tok.text
    if not text[:1].isdigit() or not all(c.isdigit() or c in "-–/:.," for c in text):
        return False
    return scores or any(c in "-–/" for c in text.strip("-–/")) or _in_iso_date(tok)


def _in_iso_date(tok: SpacyToken) -> bool:
    """A piece of "1996-12-06", which the tokenizer splits at each hyphen."""
    doc, i = tok.doc, tok.i
    after = i + 2 < len(doc) and doc[i + 1].text == "-" and doc[i + 2].text.isdigit()
    before = i >= 2 and doc[i - 1].text == "-" and doc[i - 2].text.isdigit()
    return bool(after or before)


def _covered_by_person(ents: Sequence[SpacySpan], start: int, end: int) -> bool:
    return any(e.label_ == "PERSON" and e.start <= start and end <= e.end for e in ents)


def total_votes(candidates: Iterable[Candidate]) -> dict[str, float]:
    """The summed label votes of some mentions."""
    out: defaultdict[str, float] = defaultdict(float)
    for c in candidates:
        for label, weight in c.votes.items():
            out[label] += weight
    return dict(out)


def _winner(votes: Mapping[str, float]) -> str | None:
    positive = {k: v for k, v in votes.items() if v > 0}
    if not positive:
        return None
    best = max(positive.values())
    for label in _LABEL_PRIORITY:
        if positive.get(label) == best:
            return label
    return min(k for k, v in positive.items() if v == best)


def _person_leaning(votes: Mapping[str, float]) -> bool:
    return _winner(votes) == "PERSON"


def acronym_aliases(body: str, candidates: Sequence[Candidate]) -> dict[str, str]:
    """Acronyms defined in parentheses right after a name: "Central Directorate (CDI)"."""
    ordered = sorted(candidates, key=lambda c: c.start)
    aliases: dict[str, str] = {}
    for a, b in zip(ordered, ordered[1:], strict=False):
        between = body[a.end : b.start]
        if between.strip() != "(" or body[b.end : b.end + 1] != ")":
            continue
        acronym = b.display.replace(".", "")
        initials = "".join(w[0] for w in a.display.split() if w[:1].isupper())
        if acronym.isupper() and len(acronym) >= 2 and acronym == initials:
            aliases[b.key] = a.key
    return aliases


def cluster(
    candidates: Sequence[Candidate], aliases: dict[str, str] | None = None
) -> list[list[Candidate]]:
    """Group mentions of one entity: same normalised name, then surname into full name."""
    by_key: dict[str, list[Candidate]] = {}
    for c in candidates:
        by_key.setdefault(c.key, []).append(c)
    votes = {k: total_votes(cs) for k, cs in by_key.items()}
    place = {k: sum(c.place_evidence for c in cs) for k, cs in by_key.items()}
    merged_into: dict[str, str] = {k: v for k, v in (aliases or {}).items() if k != v}
    keys = sorted(by_key, key=lambda k: len(k.split()))
    for short in keys:
        if short in merged_into:
            continue
        if place[short] > max(0.0, votes[short].get("PERSON", 0.0) - W_NER):
            continue
        target = _merge_target(short, keys, votes)
        if target is not None:
            merged_into[short] = target

    # A short form's own NER label is the least reliable vote ("Humeniuk" as ORG): the full
    # name it merges into carries the type.
    for short in merged_into:
        for c in by_key[short]:
            if c.ner_label is not None:
                c.votes[c.ner_label] -= W_NER

    def root(k: str) -> str:
        seen = set()
        while k in merged_into and k not in seen:
            seen.add(k)
            k = merged_into[k]
        return k

    groups: dict[str, list[Candidate]] = {}
    for k, cs in by_key.items():
        groups.setdefault(root(k), []).extend(cs)
    return list(groups.values())


def _merge_target(
    short: str, keys: Sequence[str], votes: Mapping[str, dict[str, float]]
) -> str | None:
    """The one longer name a short form is a mention of ("Putin" of "Vladimir Putin"), if any."""
    short_toks = tuple(short.split())
    n = len(short_toks)
    longer = [
        k
        for k in keys
        if len(k.split()) > n and tuple(k.split()[-n:]) == short_toks and _person_leaning(votes[k])
    ]
    short_label = _winner(votes[short])
    # A nationality is no company's short name ("Russian" of "Russian Defence Ministry").
    if not longer and short_label not in {"PERSON", "NORP"}:
        # "Northway" for "Northway Foods": a company's short name is its first word(s). A
        # place stays itself unless only company words follow it ("Ostra Foods", but not
        # "Philadelphia and Reading Railroad").
        def rest_ok(rest: Sequence[str]) -> bool:
            if short_label in PLACE_LABELS:
                return all(w in ORG_WORDS for w in rest)
            return bool(set(rest) & ORG_WORDS)

        longer = [
            k
            for k in keys
            if len(k.split()) > n
            and tuple(k.split()[:n]) == short_toks
            and _winner(votes[k]) == "ORG"
            and rest_ok(k.split()[n:])
        ]
    if len(longer) == 1:
        return longer[0]
    if longer:
        # Several full names share the surname; the longest that spells it out wins only
        # when the others are shorter forms of it ("Putin", "Vladimir Putin").
        longest = max(longer, key=lambda k: len(k.split()))
        if all(tuple(longest.split()[-len(k.split()) :]) == tuple(k.split()) for k in longer):
            return longest
    return None


def _variants(groups: Sequence[Sequence[Candidate]]) -> list[tuple[str, int]]:
    """Surface forms to look for again, longest first, each with the index of its group."""
    out: dict[str, int] = {}
    surnames: dict[str, set[int]] = {}
    for gi, group in enumerate(groups):
        votes = total_votes(group)
        for c in group:
            if c.seg_kind == "body" and len(c.display) >= 3:
                out.setdefault(c.display, gi)
        if _person_leaning(votes):
            longest = max(group, key=lambda c: len(c.tokens))
            words = longest.display.split()
            if len(words) > 1 and len(words[-1]) >= 3 and words[-1][0].isupper():
                surnames.setdefault(words[-1], set()).add(gi)
    for name, owners in surnames.items():
        if len(owners) == 1:
            out.setdefault(name, next(iter(owners)))
    return sorted(out.items(), key=lambda kv: -len(kv[0]))


def _propagate(groups: list[list[Candidate]], collectors: Sequence[_Collector]) -> None:
    """Mentions NER missed: later occurrences of a name already found in the document."""
    variants = _variants(groups)
    if not variants:
        return
    for col in collectors:
        text: str = col.ps.segment.nlp_text
        for name, gi in variants:
            for m in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", text):
                span = col.doc.char_span(m.start(), m.end(), alignment_mode="contract")
                if span is None or len(span) == 0:
                    continue
                cand = col.add(span.start, span.end, None, 0.0)
                if cand is not None:
                    groups[gi].append(cand)


def _canonical(mentions: Sequence[Candidate]) -> str:
    def rank(c: Candidate) -> tuple[int, int, int, int]:
        return (len(c.tokens), int(c.seg_kind == "body"), len(c.display), -c.start)

    best = max(mentions, key=rank)
    name = best.display.replace("’", "'")
    for suffix in ("'s", "'"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    words = name.split()
    while words and words[0].lower() in {"the", "a", "an"}:
        words = words[1:]
    return " ".join(words) if words else best.display


def _salience(
    mentions: Sequence[Candidate], max_count: int, body_len: int, title_words: set[str]
) -> float:
    freq = len(mentions) / max_count if max_count else 0.0
    first = min(m.start for m in mentions)
    position = 1.0 - first / body_len if body_len else 0.0
    in_headline = any(m.seg_kind in {"headline", "dek"} for m in mentions) or any(
        m.tokens and m.tokens[-1] in title_words for m in mentions
    )
    return min(1.0, 0.45 * freq + 0.3 * position + 0.25 * float(in_headline))


def resolve_entities(
    body: str, parsed: Sequence[ParsedSegment], title: str | None = None
) -> list[ResolvedEntity]:
    """Candidates from every segment → clusters → label votes, canonical name, salience."""
    candidates: list[Candidate] = []
    collectors = [_Collector(body, ps) for ps in parsed]
    for col in collectors:
        candidates.extend(col.collect())
    groups = cluster(candidates, acronym_aliases(body, candidates))
    _propagate(groups, collectors)
    entities: list[ResolvedEntity] = []
    for group in groups:
        votes = total_votes(group)
        label = _winner(votes)
        if label is None:
            # No evidence at all (the left part of a split span): a place modifying a role.
            label = "GPE"
        roles: set[str] = set().union(*(c.roles for c in group))
        entities.append(
            ResolvedEntity(name=_canonical(group), label=label, mentions=group, roles=roles)
        )
    # Two clusters may resolve to the same name and label (e.g. a headline in capitals).
    by_name: dict[tuple[str, str], ResolvedEntity] = {}
    for e in entities:
        key = (e.name.casefold(), e.label)
        if key in by_name:
            by_name[key].mentions.extend(e.mentions)
            by_name[key].roles |= e.roles
        else:
            by_name[key] = e
    merged = list(by_name.values())
    max_count = max((len(e.mentions) for e in merged), default=0)
    title_words = set(re.findall(r"\w+", title.casefold())) if title else set()
    for e in merged:
        score = _salience(e.mentions, max_count, len(body), title_words)
        # Nationality adjectives are everywhere in news and rarely what an article is about.
        e.salience = round(score * (0.5 if e.label == "NORP" else 1.0), 4)
    merged.sort(key=lambda e: (-e.salience, min(m.start for m in e.mentions)))
    return merged
