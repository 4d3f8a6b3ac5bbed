"""Article-level tone in GDELT's terms, counted with VADER's word lexicon."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from newsflow_schema import Tone

# Words only: VADER's lexicon also lists emoticons, which news prose does not use and which
# would match punctuation runs.
_WORD = re.compile(r"[a-z]+(?:['’][a-z]+)*")


@lru_cache(maxsize=1)
def vader_lexicon() -> dict[str, float]:
    """VADER's word valences (-4..4), read from the file its package ships (no network)."""
    text = resources.files("vaderSentiment").joinpath("vader_lexicon.txt").read_text("utf-8")
    lexicon: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 2 or not _WORD.fullmatch(parts[0]):
            continue
        lexicon[parts[0]] = float(parts[1])
    return lexicon


def words(text: str) -> list[str]:
    """Lower-cased word tokens, with curly apostrophes made straight to match the lexicon."""
    return [w.replace("’", "'") for w in _WORD.findall(text.lower())]


def tone(text: str) -> Tone:
    """GDELT's tone: positive% − negative% of all words; polarity is their sum.

    Like GDELT's dictionary counts, each word counts once by sign and no negation is applied:
    the fields measure how much emotive vocabulary an article uses, not a judgement.
    """
    tokens = words(text)
    if not tokens:
        return Tone(tone=0.0, positive=0.0, negative=0.0, polarity=0.0)
    lexicon = vader_lexicon()
    positive = sum(1 for w in tokens if lexicon.get(w, 0.0) > 0.0)
    negative = sum(1 for w in tokens if lexicon.get(w, 0.0) < 0.0)
    pos_pct = 100.0 * positive / len(tokens)
    neg_pct = 100.0 * negative / len(tokens)
    return Tone(
        tone=round(pos_pct - neg_pct, 4),
        positive=round(pos_pct, 4),
        negative=round(neg_pct, 4),
        polarity=round(pos_pct + neg_pct, 4),
    )
