"""Target-aware features of one sentence: the same code at training and at prediction."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from newsflow_enrich.nlp.tone import vader_lexicon

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)*|[^\sA-Za-z0-9]")
TARGET = "<t>"
# Tokens that end the clause around a target: a cheap stand-in for the parse path that links a
# target to the words judging it, with no parser needed.
_CLAUSE_BREAKS = frozenset(
    {
        ",",
        ";",
        ":",
        "(",
        ")",
        '"',
        "“",
        "”",
        "—",
        "–",
        "but",
        "while",
        "although",
        "whereas",
        "though",
        "however",
        "yet",
    }
)
_NEGATORS = frozenset(
    {
        "not",
        "no",
        "never",
        "nor",
        "without",
        "hardly",
        "barely",
        "cannot",
        "n't",
        "don't",
        "doesn't",
        "didn't",
        "isn't",
        "wasn't",
        "aren't",
        "weren't",
        "won't",
        "wouldn't",
        "couldn't",
        "shouldn't",
        "can't",
        "hasn't",
        "haven't",
        "hadn't",
        "nothing",
        "none",
    }
)
_QUOTES = frozenset({'"', "“", "”"})

ALL_GROUPS = ("unigram", "bigram", "window", "clause", "lexicon", "position")


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    start: int
    end: int


def _tokens(text: str, target_start: int, target_end: int) -> tuple[list[str], int]:
    """Lower-cased tokens with the target's tokens collapsed into one TARGET token."""
    out: list[str] = []
    target_index = -1
    for m in _TOKEN.finditer(text):
        if m.start() < target_end and m.end() > target_start:
            if target_index < 0:
                target_index = len(out)
                out.append(TARGET)
            continue
        out.append(m.group().lower().replace("’", "'"))
    if target_index < 0:
        # A target span that falls between tokens (bad offsets): keep it at its position so the
        # window features still mean "around the target".
        target_index = sum(1 for m in _TOKEN.finditer(text) if m.end() <= target_start)
        out.insert(target_index, TARGET)
    return out, target_index


def _valence(tokens: list[str], indices: Iterable[int]) -> tuple[float, float]:
    """Summed positive and negative valence, flipped after a near negator."""
    lexicon = vader_lexicon()
    pos = neg = 0.0
    for i in indices:
        v = lexicon.get(tokens[i], 0.0)
        if v == 0.0:
            continue
        if any(tokens[j] in _NEGATORS for j in range(max(0, i - 3), i)):
            v = -0.74 * v  # VADER's own damping when it flips a negated word
        if v > 0:
            pos += v
        else:
            neg -= v
    return pos, neg


def _ngrams(toks: list[str], wanted: frozenset[str], f: dict[str, float]) -> None:
    if "unigram" in wanted:
        for w in toks:
            if w != TARGET:
                f["u:" + w] = 1.0
    if "bigram" in wanted:
        for a, b in zip(toks, toks[1:], strict=False):
            f["b:" + a + "_" + b] = 1.0


def _window(toks: list[str], t: int, f: dict[str, float]) -> None:
    n = len(toks)
    for k in range(1, 4):
        f[f"L{k}:" + (toks[t - k] if t - k >= 0 else "<s>")] = 1.0
        f[f"R{k}:" + (toks[t + k] if t + k < n else "</s>")] = 1.0
    for i in range(max(0, t - 6), t):
        f["wl:" + toks[i]] = 1.0
    for i in range(t + 1, min(n, t + 7)):
        f["wr:" + toks[i]] = 1.0


def _clause_bounds(toks: list[str], t: int) -> tuple[int, int]:
    lo, hi = t, t
    while lo > 0 and toks[lo - 1] not in _CLAUSE_BREAKS:
        lo -= 1
    while hi < len(toks) - 1 and toks[hi + 1] not in _CLAUSE_BREAKS:
        hi += 1
    return lo, hi


def _lexicon(toks: list[str], t: int, lo: int, hi: int, f: dict[str, float]) -> None:
    n = len(toks)
    for name, idx in (
        ("sent", range(n)),
        ("clause", range(lo, hi + 1)),
        ("win", range(max(0, t - 6), min(n, t + 7))),
    ):
        pos, neg = _valence(toks, idx)
        # Log scale: a long sentence full of emotive words should not swamp the n-grams.
        f[f"lex:{name}:pos"] = _squash(pos)
        f[f"lex:{name}:neg"] = _squash(neg)


def _position(toks: list[str], t: int, f: dict[str, float]) -> None:
    f["pos:first" if t == 0 else ("pos:early" if t < 4 else "pos:later")] = 1.0
    quote_marks_before = sum(1 for w in toks[:t] if w in _QUOTES)
    f["q:inside" if quote_marks_before % 2 == 1 else "q:outside"] = 1.0
    if any(w in _QUOTES for w in toks):
        f["q:has"] = 1.0


def featurize(
    text: str, target_start: int, target_end: int, groups: Iterable[str] = ALL_GROUPS
) -> dict[str, float]:
    """Sparse features of a sentence as seen from the target at [target_start, target_end)."""
    wanted = frozenset(groups)
    toks, t = _tokens(text, target_start, target_end)
    f: dict[str, float] = {"bias": 1.0}
    _ngrams(toks, wanted, f)
    if "window" in wanted:
        _window(toks, t, f)
    lo, hi = _clause_bounds(toks, t)
    if "clause" in wanted:
        for i in range(lo, hi + 1):
            if i != t:
                f["c:" + toks[i]] = 1.0
    if "lexicon" in wanted:
        _lexicon(toks, t, lo, hi, f)
    if "position" in wanted:
        _position(toks, t, f)
    return f


def _squash(x: float) -> float:
    return x / (1.0 + x)
