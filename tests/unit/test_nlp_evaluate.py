"""The gold set is well-formed, and the evaluation's scoring counts what it claims to."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsflow_enrich.nlp.types import Analysis
from newsflow_enrich.training.evaluate import (
    GoldDoc,
    GoldQuote,
    Prf,
    load_gold,
    score_entities,
    score_quotes,
)
from newsflow_schema import Quote, Span

pytestmark = pytest.mark.unit

GOLD = Path(__file__).resolve().parents[1] / "data" / "gold"


def test_gold_set_is_large_varied_and_consistent() -> None:
    docs = load_gold(GOLD)
    assert len(docs) >= 20
    assert len({d.id for d in docs}) == len(docs)
    for d in docs:
        words = len(d.body.split())
        assert 80 <= words <= 300, (d.id, words)
        assert d.entities, d.id
        for name, label in d.entities:
            assert label in {"PERSON", "ORG", "GPE", "LOC"}, (d.id, name, label)
            assert name in " ".join(d.body.casefold().replace("’", "'").split()), (d.id, name)
        for q in d.quotes:
            assert q.text in d.body, (d.id, q.text)
        for s in d.stances:
            assert s.label in {"favor", "against", "neutral"}
    assert sum(len(d.quotes) for d in docs) >= 60
    assert sum(1 for d in docs if any(q.speaker is None for q in d.quotes)) >= 3


def test_prf_arithmetic() -> None:
    prf = Prf(tp=8, fp=2, fn=8)
    assert prf.precision == pytest.approx(0.8)
    assert prf.recall == pytest.approx(0.5)
    assert prf.f1 == pytest.approx(2 * 0.8 * 0.5 / 1.3)
    assert Prf(0, 0, 0).f1 == 0.0


def test_entities_are_scored_per_document_and_typed() -> None:
    gold = [frozenset({("ada lin", "PERSON"), ("oslo", "GPE")})]
    pred = [{("ada lin", "PERSON"), ("oslo", "PERSON"), ("monday", "DATE")}]
    prf = score_entities(gold, pred)
    assert (prf.tp, prf.fp, prf.fn) == (1, 1, 1)


def test_quote_attribution_counts_right_and_unnamed_speakers() -> None:
    body = '"We will win," said Ada Lin. "It is over," the source added.'
    doc = GoldDoc(
        id="x",
        title=None,
        body=body,
        entities=frozenset(),
        quotes=(GoldQuote("We will win", "Ada Lin"), GoldQuote("It is over", None)),
        stances=(),
    )

    def quote(text: str, entity: str | None, speaker: str) -> Quote:
        start = body.index(text)
        return Quote(
            text=text,
            span=Span(start=start, end=start + len(text)),
            speaker=speaker,
            speaker_entity=entity,
        )

    right = Analysis(
        language="en",
        quotes=(
            quote("We will win", "Ada Lin", "Ada Lin"),
            quote("It is over", None, "the source"),
        ),
    )
    wrong = Analysis(language="en", quotes=(quote("We will win", "Oslo", "Oslo"),))
    assert score_quotes([doc], [right]) == (2, 2, 2)
    assert score_quotes([doc], [wrong]) == (2, 1, 0)
