"""The composed enricher: one analysis per document, valid offsets, odd inputs survive."""

from __future__ import annotations

import pytest

from newsflow_enrich.nlp import Analysis, Document, NlpConfig
from newsflow_enrich.nlp.enricher import DEGRADED, NewsEnricher

pytestmark = pytest.mark.unit

STORY = (
    "GRAIN PRICES JUMP AS PORT CLOSES\n\n"
    "ODESSA, Ukraine (AP) — Wheat prices jumped on Monday after the port of Odessa closed. "
    '"We cannot load a single ship," said port director Ivan Melnyk. Melnyk said that the '
    "closure could last a week.\n\n"
    "Analysts at Grainwise Research said prices would keep rising."
)


@pytest.fixture(scope="module")
def enricher() -> NewsEnricher:
    return NewsEnricher(NlpConfig())


def check_offsets(body: str, analysis: Analysis) -> None:
    for e in analysis.entities:
        assert e.mention_count == len(e.mentions)
        for m in e.mentions:
            assert body[m.start : m.end] == m.text
    for q in analysis.quotes:
        assert body[q.span.start : q.span.end] == q.text
        if q.speaker_span is not None:
            assert 0 <= q.speaker_span.start < q.speaker_span.end <= len(body)


def test_one_analysis_per_document_in_order(enricher: NewsEnricher) -> None:
    docs = [
        Document(key="a", body=STORY, title="Grain prices jump as port closes"),
        Document(key="b", body="Nothing happened in the town of Ashby today."),
    ]
    out = enricher.enrich(docs)
    assert len(out) == 2
    check_offsets(STORY, out[0])
    names = {e.name: e.label for e in out[0].entities}
    assert names.get("Ivan Melnyk") == "PERSON"
    assert "Melnyk" not in names
    quote = next(q for q in out[0].quotes if q.kind == "direct")
    assert quote.speaker_entity == "Ivan Melnyk" and quote.cue == "said"
    assert any(q.kind == "indirect" and q.speaker_entity == "Ivan Melnyk" for q in out[0].quotes)
    assert out[0].tone is not None and out[0].language == "en"
    assert {m.name for m in out[0].models} >= {"spacy", "newsflow-rules"}


@pytest.mark.parametrize(
    "body",
    [
        "<!-- gtag('js', new Date()); -->",
        "   \n\n  ",
        '"',
        "“An unclosed quote that runs on and on",
        "A" * 3 + " " + "word " * 2000,
    ],
)
def test_odd_bodies_do_not_break_the_enricher(enricher: NewsEnricher, body: str) -> None:
    (analysis,) = enricher.enrich([Document(key="odd", body=body)])
    check_offsets(body, analysis)


def test_degraded_document_gets_entities_and_tone_only(enricher: NewsEnricher) -> None:
    full, degraded = enricher.enrich(
        [Document(key="a", body=STORY), Document(key="b", body=STORY, degraded=True)]
    )
    assert full.quotes and DEGRADED not in full.models
    assert degraded.quotes == () and degraded.stances == ()
    assert [e.name for e in degraded.entities] == [e.name for e in full.entities]
    assert degraded.tone == full.tone
    assert DEGRADED in degraded.models
    assert set(full.models) < set(degraded.models)
