"""Segmentation of stored bodies: head lines typed, capitals re-cased, offsets preserved."""

from __future__ import annotations

import pytest

from newsflow_enrich.nlp.segment import (
    NLP_KINDS,
    proper_vocabulary,
    recase_caps,
    recase_wire_dateline,
    segment,
    sentence_case,
)

pytestmark = pytest.mark.unit

SCRAPED = (
    "<!-- gtag('config', 'UA-1') -->\n\n"
    "Mayor Unveils Plan to Rebuild Harbourside Pier\n\n"
    "The project will cost the city about $40 million over five years.\n\n"
    "March 3, 2024\n"
    "Photo: Getty Images\n\n"
    "Mayor Elena Varga said on Monday that the Harbourside pier would reopen in 2026. "
    "She spoke at City Hall.\n\n"
    "The council will vote next week."
)


def kinds(body: str) -> list[str]:
    return [s.kind for s in segment(body)]


def test_head_lines_are_typed() -> None:
    assert kinds(SCRAPED) == ["junk", "headline", "dek", "dateline", "credit", "body", "body"]


def test_segments_never_cross_a_line_and_keep_offsets() -> None:
    for s in segment(SCRAPED):
        raw = SCRAPED[s.start : s.end]
        assert "\n" not in raw
        assert raw == raw.strip()
        assert len(s.nlp_text) == len(raw)


def test_junk_dateline_and_credit_are_not_read_by_nlp() -> None:
    skipped = [SCRAPED[s.start : s.end] for s in segment(SCRAPED) if s.kind not in NLP_KINDS]
    assert skipped == ["<!-- gtag('config', 'UA-1') -->", "March 3, 2024", "Photo: Getty Images"]


def test_a_one_line_body_is_body() -> None:
    assert kinds("Officials said the bridge would reopen on Friday.") == ["body"]


def test_later_lines_stay_body_even_when_short() -> None:
    body = "First paragraph of the story, which runs long. It has two sentences.\n\nShort line"
    assert kinds(body) == ["body", "body"]


def test_capitals_are_recased_without_changing_length() -> None:
    line = "TYPHOON HITS NORTHERN COAST AS U.S. SENDS AID"
    out = recase_caps(line)
    assert out == "Typhoon Hits Northern Coast as U.S. Sends Aid"
    assert len(out) == len(line)


def test_wire_dateline_is_recased_only_at_its_head() -> None:
    text = "KYIV, Ukraine (AP) — NATO leaders met on Monday."
    assert recase_wire_dateline(text) == "Kyiv, Ukraine (AP) — NATO leaders met on Monday."
    assert recase_wire_dateline("NATO leaders met.") == "NATO leaders met."


def test_headline_title_case_is_lowered_except_the_bodys_proper_nouns() -> None:
    body = "Talks in Geneva stalled. Officials from Norvia said the Geneva round failed."
    vocab = proper_vocabulary([body])
    assert "geneva" in vocab and "norvia" in vocab and "officials" not in vocab
    assert sentence_case("Norvia Walks Out of Geneva Talks", vocab) == (
        "Norvia walks out of Geneva talks"
    )


def test_capitalised_headline_is_recased_and_sentence_cased() -> None:
    body = "STORM HITS VALMORA PORT\n\nVALMORA, Estria (AP) — A storm hit the port of Valmora."
    segs = segment(body)
    assert segs[0].kind == "headline"
    assert segs[0].nlp_text == "Storm hits Valmora port"
    assert segs[1].nlp_text.startswith("Valmora, Estria (AP) —")


def test_a_results_line_keeps_its_capitals() -> None:
    body = (
        "Leeds United 3 Aston Villa 1\n\nWhite Hart Lane Will Host The Derby\n\n"
        "Leeds won at home. The derby at White Hart Lane follows."
    )
    segs = segment(body)
    assert segs[0].nlp_text == "Leeds United 3 Aston Villa 1"
    # An ordinary title-cased head line is still put in sentence case.
    assert segs[1].nlp_text == "White Hart Lane will host the derby"
