"""Which mentions can carry a stance (places and nationality adjectives cannot) and which side a
speaker is on (from the role words and appositions around their name)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from newsflow_schema import Entity, Mention

PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
# A place after one of these is where something happened, not who did it: "surrender in Kherson",
# "troops near Kherson", "the north-eastern region of Kharkiv".
_LOCATIVE = frozenset(
    "in near at from to into across around outside inside throughout toward towards through "
    "within of over beyond along between".split()
)
# Words allowed between the preposition and the place: "in southern Ukraine", "in the Kharkiv".
_PLACE_FILLER = re.compile(
    r"^(?:the|a|an|[a-z]+(?:ern|-eastern|-western)|north|south|east|west|central|occupied)$"
)
# A place naming a noun after it is a modifier: "the Kharkiv region", "Kherson chief".
_PLACE_NOUNS = frozenset(
    "region regions city cities oblast province area areas border borders district districts "
    "county state front direction chief governor mayor authorities administration river "
    "sea coast valley basin".split()
)
_WORD = re.compile(r"[\w’'.-]+")
# What follows a name as its role: ", a senior lawmaker from Putin's United Russia party,".
_APPOSITION = re.compile(r",\s+(?:a|an|the)\s+[^,.;:“”\"]{3,90},")
# ... or directly: "Henrik Dahl of Nordvik Bank".
_AFFILIATION_AFTER = re.compile(r"(?<!\s)\s++(?:of|from|at|with)\s+(?:the\s+)?[^,.;:“”\"]{2,60}")
# Role nouns: the words a premodifier chain before a name ends in.
ROLE_WORDS = frozenset(
    "spokesperson spokesman spokeswoman adviser advisor governor chief minister president "
    "deputy lawmaker official commander mayor secretary director head leader senator member "
    "ambassador envoy general aide representative chairman chairwoman ceo founder analyst "
    "prosecutor officer".split()
)
# Between a role word and the name: nothing but titles, or a "for/of the X" phrase and a comma.
_ROLE_GAP = re.compile(
    r"^(?:\s+(?:for|of|at|with|from)\s+[^,.;:“”\"]{2,70})?\s*+,?\s*+(?:[A-Z][\w.’'-]*+\s++)*+$"
)
_CLAUSE_EDGE = re.compile(r"[,;:“”\"(\n]|\bthat\b|\bsaid\b|\band\b")
# Demonym endings: "Ukraine" → "Ukrainian", "Russia" → "Russian", "Iraq" → "Iraqis".
_DEMONYM_ENDINGS = ("n", "ns", "an", "ans", "ian", "ians", "i", "is", "ese", "ish")


_PUNCT = re.compile(r"[,;:.!?“”\"()\[\]\n]")


def _words_before(text: str, end: int, count: int) -> list[str]:
    """Up to `count` words right before `end`, not reaching back over punctuation."""
    window = text[max(0, end - 60) : end]
    edges = [m.end() for m in _PUNCT.finditer(window)]
    window = window[edges[-1] :] if edges else window
    return [m.group(0) for m in _WORD.finditer(window)][-count:]


def is_place_use(body: str, mention: Mention) -> bool:
    """Whether a place mention names where something is, not an actor ("Russia said")."""
    after = body[mention.end : mention.end + 30]
    if after.startswith("-"):  # "Russia-controlled areas": a modifier inside a compound
        return True
    if re.match(r"[’']s\b", after):  # "Ukraine's forces": the country as an actor
        return False
    following = _WORD.match(after.lstrip())
    if following and after[:1].isspace() and following.group(0).lower().rstrip(".") in _PLACE_NOUNS:
        return True
    before = _words_before(body, mention.start, 6)
    if len(before) >= 2 and before[-1] in ("and", "or") and before[-2][:1].isupper():
        # "from Moscow and St. Petersburg": a place coordinated with a place.
        before = before[:-1]
        while before and before[-1][:1].isupper():
            before.pop()
    while before and _PLACE_FILLER.match(before[-1]):
        before.pop()
    return bool(before) and before[-1].lower() in _LOCATIVE


def is_modifier_use(body: str, mention: Mention) -> bool:
    """Whether a nationality word modifies a noun ("Russian president", "pro-Russian deputy")
    rather than naming a group ("the Russians")."""
    if mention.text.endswith("s"):
        return False
    return re.match(r"\s+[A-Za-z]", body[mention.end : mention.end + 3]) is not None


def stance_mentions(body: str, entity: Entity) -> tuple[Mention, ...]:
    """The mentions of `entity` that can carry a stance toward it."""
    if entity.label in PLACE_LABELS:
        return tuple(m for m in entity.mentions if not is_place_use(body, m))
    if entity.label == "NORP":
        return tuple(m for m in entity.mentions if not is_modifier_use(body, m))
    return entity.mentions


# --- sides ---------------------------------------------------------------------------------


def _side_key(name: str) -> str:
    key = name.lower().replace("’", "'")
    return key[4:] if key.startswith("pro-") else key


def same_side(a: str, b: str) -> bool:
    """Whether two names are one side: equal, or a place and its demonym ("Ukraine",
    "Ukrainian", "pro-Russian")."""
    x, y = _side_key(a), _side_key(b)
    if x == y:
        return True
    short, long_ = sorted((x, y), key=len)
    stems = {short, short[:-1]} if short[-1:] in "aeo" else {short}
    return any(long_ == stem + end for stem in stems for end in _DEMONYM_ENDINGS)


def _role_before(body: str, sent_start: int, name_start: int) -> tuple[int, int] | None:
    """The premodifier chain that ends in a role word right before a name: "pro-Russian deputy
    Kherson chief", "Ukraine's Operational Command South spokesperson, ", "the spokesperson for
    the Bohun Brigade of Ukraine's special forces, "."""
    window_start = max(sent_start, name_start - 160)
    window = body[window_start:name_start]
    roles = [m for m in _WORD.finditer(window) if m.group(0).lower() in ROLE_WORDS]
    for role in reversed(roles):
        if not _ROLE_GAP.match(window[role.end() :]):
            continue
        edges = [m.end() for m in _CLAUSE_EDGE.finditer(window[: role.start()])]
        start = edges[-1] if edges else 0
        return window_start + start, name_start
    return None


def _role_after(body: str, sent_end: int, name_end: int) -> tuple[int, int] | None:
    tail = body[name_end:sent_end]
    m = _APPOSITION.match(tail) or _AFFILIATION_AFTER.match(tail)
    return (name_end, name_end + m.end()) if m else None


@dataclass(frozen=True, slots=True)
class Side:
    """The names a speaker's roles tie them to ("Kremlin", "pro-Russian", "Kherson")."""

    names: frozenset[str]

    def includes(self, target: str) -> bool:
        return any(same_side(target, n) for n in self.names)


def speaker_side(
    body: str,
    speaker: Entity,
    entities: Iterable[Entity],
    sentence_of: SentenceOf,
) -> Side:
    """Every entity named in a role phrase or apposition around any mention of the speaker."""
    spans: list[tuple[int, int]] = []
    for m in speaker.mentions:
        sent = sentence_of(m.start)
        if sent is None:
            continue
        spans += [
            s
            for s in (_role_before(body, sent[0], m.start), _role_after(body, sent[1], m.end))
            if s is not None
        ]
    names = {
        e.name
        for e in entities
        if e.name != speaker.name
        for m in e.mentions
        if any(a <= m.start and m.end <= b for a, b in spans)
    }
    return Side(frozenset(names))


class SentenceOf:
    """The sentence (start, end) around a body offset."""

    def __init__(self, sentences: Sequence[tuple[int, int]]) -> None:
        import bisect

        self._bisect = bisect.bisect_right
        self._sentences = sentences
        self._starts = [s for s, _ in sentences]

    def __call__(self, offset: int) -> tuple[int, int] | None:
        i = self._bisect(self._starts, offset) - 1
        if i >= 0 and self._sentences[i][0] <= offset < self._sentences[i][1]:
            return self._sentences[i]
        return None
