"""spaCy's attribute ruler, applied to a batch of docs at once with numpy.

The English pipelines map every fine-grained tag to its part of speech and morphology with
an `attribute_ruler` of ~180 one- and two-token patterns. spaCy runs them through its
Matcher, one doc at a time: on the paragraphs enrich parses that is about a sixth of the
pipeline's time. `BatchAttributeRuler` reads the same patterns and, for a batch of docs,
tests each pattern on every token in one numpy pass, then writes the attributes back: the
same POS, MORPH, LEMMA, TAG and DEP on every token (tests/unit/test_nlp_attribute_rules.py
compares both rulers on open data). Patterns it cannot read (operators other than IN and
NOT_IN and REGEX, attributes other than those below, quantifiers) leave the stock ruler
in place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from spacy.attrs import DEP, IS_SPACE, LEMMA, LOWER, MORPH, POS, TAG
from spacy.language import Language
from spacy.parts_of_speech import IDS as POS_IDS
from spacy.pipeline import AttributeRuler
from spacy.tokens import Doc
from spacy.util import minibatch
from spacy.vocab import Vocab

FACTORY = "newsflow_attribute_ruler"
# Columns of the per-batch token array: what patterns test, then what they write.
_COLUMNS = (LOWER, TAG, DEP, IS_SPACE, POS, MORPH, LEMMA)
_NAMES = ("LOWER", "TAG", "DEP", "IS_SPACE", "POS", "MORPH", "LEMMA")
_COL = {name: i for i, name in enumerate(_NAMES)}
_TESTED = frozenset({"LOWER", "TAG", "DEP", "IS_SPACE"})
_WRITTEN = frozenset({"POS", "MORPH", "LEMMA", "TAG", "DEP"})

U64 = np.ndarray[Any, np.dtype[np.uint64]]
Mask = np.ndarray[Any, np.dtype[np.bool_]]


class UnsupportedPatternError(ValueError):
    """A pattern this ruler does not evaluate: keep spaCy's."""


@dataclass(frozen=True, slots=True)
class _Test:
    column: int
    values: tuple[int, ...]
    negated: bool
    # REGEX: searched in the attribute's string, as the Matcher does (values unused).
    regex: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True)
class _Rule:
    tokens: tuple[tuple[_Test, ...], ...]
    index: int
    writes: tuple[tuple[int, int], ...]  # (column, value)


def _value(vocab: Vocab, attr: str, value: Any) -> int:
    if attr == "IS_SPACE":
        if not isinstance(value, bool):
            raise UnsupportedPatternError(f"IS_SPACE {value!r}")
        return int(value)
    if not isinstance(value, str):
        raise UnsupportedPatternError(f"{attr} {value!r}")
    # The Matcher compares string hashes; the empty string is 0, as an unset attribute.
    return int(vocab.strings.add(value)) if value else 0


def _test(vocab: Vocab, attr: str, spec: Any) -> _Test:
    if attr not in _TESTED:
        raise UnsupportedPatternError(f"attribute {attr}")
    column = _COL[attr]
    if isinstance(spec, dict):
        if len(spec) != 1 or next(iter(spec)) not in ("IN", "NOT_IN", "REGEX"):
            raise UnsupportedPatternError(f"{attr} {spec!r}")
        ((op, values),) = spec.items()
        if op == "REGEX":
            if attr == "IS_SPACE" or not isinstance(values, str):
                raise UnsupportedPatternError(f"{attr} {spec!r}")
            return _Test(column, (), negated=False, regex=re.compile(values))
        hashed = tuple(_value(vocab, attr, v) for v in values)
        return _Test(column, hashed, negated=op == "NOT_IN")
    return _Test(column, (_value(vocab, attr, spec),), negated=False)


def _write(vocab: Vocab, attr: str, value: Any) -> tuple[int, int]:
    if attr not in _WRITTEN or not isinstance(value, str):
        raise UnsupportedPatternError(f"writes {attr} {value!r}")
    if attr == "POS":
        return _COL["POS"], int(POS_IDS[value])
    if attr == "MORPH":
        return _COL["MORPH"], int(vocab.morphology.add(value))
    return _COL[attr], int(vocab.strings.add(value))


def compile_rules(vocab: Vocab, patterns: Iterable[Mapping[str, Any]]) -> tuple[_Rule, ...]:
    """The attribute ruler's patterns (`AttributeRuler.patterns`), in their order."""
    rules: list[_Rule] = []
    for entry in patterns:
        writes = tuple(_write(vocab, a, v) for a, v in entry["attrs"].items())
        index = int(entry.get("index", 0))
        for pattern in entry["patterns"]:
            tokens = tuple(
                tuple(_test(vocab, attr, spec) for attr, spec in token.items()) for token in pattern
            )
            if not tokens or not -len(tokens) <= index < len(tokens):
                raise UnsupportedPatternError(f"index {index} of {pattern!r}")
            rules.append(_Rule(tokens, index % len(tokens), writes))
    return tuple(rules)


def _holds(test: _Test, column: U64, strings: Any) -> Mask:
    if test.regex is not None:
        found = test.regex.search
        unique, inverse = np.unique(column, return_inverse=True)
        matched: Mask = np.array([found(strings[int(h)]) is not None for h in unique], dtype=bool)
        return matched[inverse]
    hit: Mask = column == test.values[0] if len(test.values) == 1 else np.isin(column, test.values)
    return ~hit if test.negated else hit


def apply_rules(rules: Sequence[_Rule], docs: Sequence[Doc]) -> None:
    """Set what the rules write on every token of `docs`; later rules win, as in spaCy
    (every rule is tested on the docs as they came, then the writes applied in order)."""
    arrays = [doc.to_array(list(_COLUMNS)) for doc in docs if len(doc)]
    if not arrays:
        return
    lengths = [len(a) for a in arrays]
    table: U64 = np.concatenate(arrays)
    out = table.copy()
    doc_of = np.repeat(np.arange(len(arrays)), lengths)
    strings = docs[0].vocab.strings
    n = len(table)
    for rule in rules:
        k = len(rule.tokens)
        if n < k:
            continue
        span = n - k + 1
        starts: Mask = np.ones(span, dtype=bool)
        for offset, tests in enumerate(rule.tokens):
            for test in tests:
                starts &= _holds(test, table[offset : offset + span, test.column], strings)
        if k > 1:
            starts &= doc_of[k - 1 :] == doc_of[:span]  # a match never crosses two docs
        targets = np.flatnonzero(starts) + rule.index
        if targets.size:
            for column, value in rule.writes:
                out[targets, column] = value
    written = [_COL[name] for name in ("POS", "MORPH", "LEMMA", "TAG", "DEP")]
    first = 0
    for doc in (d for d in docs if len(d)):
        last = first + len(doc)
        doc.from_array([_COLUMNS[c] for c in written], out[first:last][:, written])  # type: ignore[arg-type]
        first = last


class BatchAttributeRuler:
    """A pipeline component in place of `attribute_ruler`, with its patterns."""

    def __init__(self, vocab: Vocab, name: str = FACTORY) -> None:
        self.vocab = vocab
        self.name = name
        self.rules: tuple[_Rule, ...] = ()

    def __call__(self, doc: Doc) -> Doc:
        apply_rules(self.rules, [doc])
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: int = 256) -> Iterator[Doc]:
        for batch in minibatch(docs, size=batch_size):  # type: ignore[no-untyped-call]
            apply_rules(self.rules, batch)
            yield from batch


@Language.factory(FACTORY)
def make_batch_attribute_ruler(nlp: Language, name: str) -> BatchAttributeRuler:
    return BatchAttributeRuler(nlp.vocab, name)


def use_batch_attribute_ruler(nlp: Language) -> bool:
    """Put a BatchAttributeRuler where `attribute_ruler` is, with its patterns; False (and
    the pipeline unchanged) when there is none or its patterns are beyond this ruler."""
    if "attribute_ruler" not in nlp.pipe_names:
        return False
    stock = nlp.get_pipe("attribute_ruler")
    if not isinstance(stock, AttributeRuler):
        return False
    try:
        rules = compile_rules(nlp.vocab, stock.patterns)
    except UnsupportedPatternError:
        return False
    component = nlp.add_pipe(FACTORY, before="attribute_ruler")
    assert isinstance(component, BatchAttributeRuler)
    component.rules = rules
    nlp.remove_pipe("attribute_ruler")
    return True
