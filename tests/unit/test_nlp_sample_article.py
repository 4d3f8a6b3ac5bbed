"""The issue's "Done when" facts on the sample article, at the Analysis level."""

from __future__ import annotations

import pytest

from newsflow_enrich.nlp import Analysis, Document, NlpConfig, load_enricher
from tests.support.sample import OFFICIALS, SAMPLE

pytestmark = pytest.mark.unit

PLACES = ("Kherson", "Kharkiv", "Dnipro")
SPEAKERS = ("Nataliya Humeniuk", "Kirill Stremousov", "Dmitry Peskov", "Konstantin Zatulin")


@pytest.fixture(scope="module")
def sample() -> tuple[str, Analysis]:
    if not SAMPLE.is_file():
        pytest.skip(f"sample article not found at {SAMPLE}")
    body = SAMPLE.read_text("utf-8")
    analysis = load_enricher(NlpConfig()).enrich([Document(key="sample", body=body)])[0]
    return body, analysis


def test_each_official_is_one_person_under_full_name(sample: tuple[str, Analysis]) -> None:
    _, analysis = sample
    persons = [e.name for e in analysis.entities if e.label == "PERSON"]
    for name in OFFICIALS:
        assert persons.count(name) == 1, (name, persons)
    surnames = {n.split()[-1] for n in OFFICIALS}
    assert not [p for p in persons if p in surnames], persons


def test_places_are_places_never_person(sample: tuple[str, Analysis]) -> None:
    _, analysis = sample
    for place in PLACES:
        labels = {e.label for e in analysis.entities if e.name == place}
        assert labels and labels <= {"GPE", "LOC"}, (place, labels)
    person_mentions = {m.text for e in analysis.entities if e.label == "PERSON" for m in e.mentions}
    assert not person_mentions & set(PLACES)


def test_no_entity_crosses_a_line_or_is_a_modifier(sample: tuple[str, Analysis]) -> None:
    body, analysis = sample
    for e in analysis.entities:
        for m in e.mentions:
            assert "\n" not in body[m.start : m.end]
            assert body[m.start : m.end] == m.text
    assert not [e for e in analysis.entities if e.name.startswith("pro-") and e.label != "NORP"]


def test_quotes_attributed_to_the_four_speakers(sample: tuple[str, Analysis]) -> None:
    body, analysis = sample
    direct = [q for q in analysis.quotes if q.kind == "direct"]
    for speaker in SPEAKERS:
        assert any(q.speaker_entity == speaker for q in direct), speaker
    for q in analysis.quotes:
        assert body[q.span.start : q.span.end] == q.text
    unnamed = [q for q in direct if q.text.startswith("The Russians had no idea")]
    assert unnamed and unnamed[0].speaker_entity is None and unnamed[0].speaker == "the source"


def test_stances_from_the_speakers_with_evidence(sample: tuple[str, Analysis]) -> None:
    body, analysis = sample
    holders = {s.holder for s in analysis.stances if s.holder_type == "speaker"}
    for speaker in SPEAKERS:
        assert speaker in holders, (speaker, holders)
    for s in analysis.stances:
        assert s.evidence and all(0 <= sp.start < sp.end <= len(body) for sp in s.evidence)
    assert analysis.tone is not None
