"""Stance assembly rules: places, nationality adjectives, speakers' sides, the pair budget."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from newsflow_enrich.nlp.stance import assemble_stances, stance_targets
from newsflow_enrich.nlp.stance_rules import (
    SentenceOf,
    is_modifier_use,
    is_place_use,
    same_side,
    speaker_side,
)
from newsflow_enrich.nlp.stance_types import StanceLabel, TargetSentence
from newsflow_schema import Entity, Mention, ModelInfo, Quote, Span

pytestmark = pytest.mark.unit


def mention(body: str, text: str, nth: int = 0) -> Mention:
    start = -1
    for _ in range(nth + 1):
        start = body.index(text, start + 1)
    return Mention(start=start, end=start + len(text), text=text)


def entity(body: str, name: str, label: str, *surfaces: tuple[str, int]) -> Entity:
    mentions = tuple(mention(body, t, n) for t, n in surfaces) or (mention(body, name),)
    return Entity(
        name=name, label=label, mentions=mentions, mention_count=len(mentions), salience=0.5
    )


@pytest.mark.parametrize(
    ("body", "place"),
    [
        ("Russian forces near Kherson are negotiating.", "Kherson"),
        ("Talks on surrender in Kherson went on.", "Kherson"),
        ("Russian forces in southern Ukraine are negotiating.", "Ukraine"),
        ("He spoke about the situation in the Kharkiv region.", "Kharkiv"),
        ("Kharkiv Governor Oleh Syniehubov said so.", "Kharkiv"),
        ("They took back Russia-controlled areas.", "Russia"),
        ("Lawmakers, mainly from Moscow and St. Petersburg, signed it.", "St. Petersburg"),
        ("They cannot cross the Dnipro river.", "Dnipro"),
    ],
)
def test_a_place_used_as_a_place(body: str, place: str) -> None:
    assert is_place_use(body, mention(body, place))


@pytest.mark.parametrize(
    ("body", "actor"),
    [
        ("On Monday, Ukraine revealed that talks began.", "Ukraine"),
        ("Forces negotiating surrender amid Ukraine’s blitzkrieg.", "Ukraine"),
        ("A prisoner exchange with Russia is planned.", "Russia"),
        ("The feint was meant to distract Russia from the assault.", "Russia"),
        ("In the north, Ukraine attacked first.", "Ukraine"),
        ("Russia said the operation would continue.", "Russia"),
    ],
)
def test_a_place_as_an_actor_keeps_its_stance(body: str, actor: str) -> None:
    assert not is_place_use(body, mention(body, actor))


def test_nationality_adjectives_modify_nouns_and_plural_groups_do_not() -> None:
    body = "Russian president Putin met pro-Russian deputies. The Russians had no idea."
    assert is_modifier_use(body, mention(body, "Russian"))
    assert is_modifier_use(body, mention(body, "pro-Russian"))
    assert not is_modifier_use(body, mention(body, "Russians"))


def test_same_side_links_a_country_its_demonym_and_pro_forms() -> None:
    assert same_side("Ukraine", "Ukrainian")
    assert same_side("Russian", "pro-Russian")
    assert same_side("Russia", "Russians")
    assert not same_side("Russia", "Ukraine")
    assert not same_side("Kherson", "Kharkiv")


def _sentences(body: str) -> list[tuple[int, int]]:
    out, start = [], 0
    for part in body.split(". "):
        end = start + len(part) + (1 if start + len(part) < len(body) else 0)
        out.append((start, end))
        start = end + 1
    return out


@pytest.mark.parametrize(
    ("body", "speaker", "side"),
    [
        (
            "Still, pro-Russian deputy Kherson chief Kirill Stremousov maintained calm.",
            "Kirill Stremousov",
            {"pro-Russian", "Kherson"},
        ),
        ("On Friday, Kremlin spokesman Dmitry Peskov said it.", "Dmitry Peskov", {"Kremlin"}),
        (
            "Konstantin Zatulin, a senior lawmaker from United Russia, agreed.",
            "Konstantin Zatulin",
            {"United Russia"},
        ),
        (
            "Meanwhile, the spokesperson for the Bohun Brigade of Ukraine’s forces, Taras "
            "Berezovets, disclosed it.",
            "Taras Berezovets",
            {"Bohun Brigade", "Ukraine"},
        ),
    ],
)
def test_speaker_side_from_roles_and_appositions(body: str, speaker: str, side: set[str]) -> None:
    names = sorted(side)
    ents = [entity(body, n, "ORG") for n in names]
    person = entity(body, speaker, "PERSON")
    found = speaker_side(body, person, [person, *ents], SentenceOf(_sentences(body)))
    assert found.names == frozenset(side)


class Grim:
    """A fake model that reads every sentence with "surrender" in it as against the target."""

    info = ModelInfo(name="grim-fake", version="1")

    def __init__(self) -> None:
        self.calls: list[list[TargetSentence]] = []

    def predict(self, items: Sequence[TargetSentence]) -> list[tuple[StanceLabel, float]]:
        self.calls.append(list(items))
        return [("against", -0.8) if "surrender" in i.text else ("neutral", 0.0) for i in items]


def test_a_speaker_defending_their_own_side_is_not_against_it() -> None:
    body = (
        "Pro-Russian deputy Kherson chief Kirill Stremousov spoke. "
        "“Kherson is a Russian city and no one will surrender it,” Stremousov said."
    )
    sents = _sentences(body)
    kherson = entity(body, "Kherson", "GPE", ("Kherson", 0), ("Kherson", 1))
    person = entity(body, "Kirill Stremousov", "PERSON", ("Kirill Stremousov", 0))
    quoted = "Kherson is a Russian city and no one will surrender it,"
    q = Quote(
        text=quoted,
        span=Span(start=body.index(quoted), end=body.index(quoted) + len(quoted)),
        speaker="Stremousov",
        speaker_entity="Kirill Stremousov",
        speaker_span=Span(start=body.rindex("Stremousov"), end=body.rindex("Stremousov") + 10),
        cue="said",
    )
    stances = assemble_stances(body, sents, [kherson, person], [q], Grim())
    held = {(s.holder, s.target): s for s in stances}
    assert held[("Kirill Stremousov", "Kherson")].label == "neutral"
    assert held[("Kirill Stremousov", "Kherson")].score >= 0.0
    # The same words from someone with no tie to Kherson stay "against".
    other = q.model_copy(update={"speaker": "Jones", "speaker_entity": "Jones"})
    held = {
        (s.holder, s.target): s for s in assemble_stances(body, sents, [kherson], [other], Grim())
    }
    assert held[("Jones", "Kherson")].label == "against"


def test_pairs_are_capped_and_each_read_once() -> None:
    body = " ".join(f"Acme and Borex met in round {i}." for i in range(10))
    sents = _sentences(body)
    acme = entity(body, "Acme", "ORG", *[("Acme", i) for i in range(10)])
    borex = entity(body, "Borex", "ORG", *[("Borex", i) for i in range(10)])
    clf = Grim()
    stances = assemble_stances(
        body, sents, [acme, borex], [], clf, pairs_per_key=2, pairs_per_article=3
    )
    [items] = clf.calls
    assert len(items) == 3 == len(set(items))
    # Every target still gets a stance: the budget takes first items before second ones.
    assert {s.target for s in stances} == {"Acme", "Borex"}


def test_targets_drop_places_and_modifiers_but_keep_actors() -> None:
    body = "Russian troops stayed near Kherson. Russia said the Russians would return to Kherson."
    ents = [
        entity(body, "Russian", "NORP", ("Russian", 0)),
        entity(body, "Russians", "NORP", ("Russians", 0)),
        entity(body, "Kherson", "GPE", ("Kherson", 0), ("Kherson", 1)),
        entity(body, "Russia", "GPE", ("Russia", 0)),
    ]
    assert {e.name for e in stance_targets(body, ents, 10)} == {"Russians", "Russia"}


def test_a_tiered_classifier_gives_the_first_pairs_to_the_stronger_model() -> None:
    from newsflow_enrich.nlp.stance import TieredStanceClassifier

    strong, weak = Grim(), Grim()
    items = [TargetSentence(f"Item {i} on surrender.", 0, 4) for i in range(5)]
    tiered = TieredStanceClassifier(strong, weak, budget=3)
    assert len(tiered.predict(items)) == 5
    assert strong.calls == [items[:3]] and weak.calls == [items[3:]]
    assert tiered.predict(items[:2]) and weak.calls == [items[3:]]
    assert tiered.info.name == "grim-fake+grim-fake"


def test_speakers_pairs_come_first_and_stances_in_text_order() -> None:
    body = "Acme grew. Borex grew. “Acme is fine,” Jones said."
    sents = [(0, 10), (11, 22), (23, len(body))]
    acme = entity(body, "Acme", "ORG", ("Acme", 0), ("Acme", 1))
    borex = entity(body, "Borex", "ORG", ("Borex", 0))
    quoted = "Acme is fine,"
    start = body.index(quoted)
    q = Quote(
        text=quoted,
        span=Span(start=start, end=start + len(quoted)),
        speaker="Jones",
        speaker_entity="Jones",
        speaker_span=Span(start=body.index("Jones"), end=body.index("Jones") + 5),
        cue="said",
    )
    clf = Grim()
    stances = assemble_stances(body, sents, [acme, borex], [q], clf)
    [seen] = clf.calls
    assert seen[0].text == body[23:]
    assert [(s.holder, s.target) for s in stances] == [
        ("article", "Acme"),
        ("article", "Borex"),
        ("Jones", "Acme"),
    ]


def test_a_tie_between_a_view_and_none_is_neutral_and_favor_against_goes_by_score() -> None:
    from newsflow_enrich.nlp.stance import _aggregate, _Evidence

    def ev(i: int) -> _Evidence:
        return _Evidence(
            "article", "article", "Acme", TargetSentence(f"s{i}", 0, 2), Span(start=i, end=i + 1)
        )

    [mixed] = _aggregate([ev(0), ev(1)], [("against", -0.9), ("neutral", 0.1)])
    assert (mixed.label, mixed.score) == ("neutral", 0.05)
    [split] = _aggregate([ev(0), ev(1)], [("against", -0.9), ("favor", 0.4)])
    assert split.label == "against"
