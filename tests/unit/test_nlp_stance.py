"""Target stance: the shipped classifier, the assembly of holders and targets, the baselines."""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from newsflow_enrich.nlp.stance import (
    ARTIFACT_PATH,
    assemble_stances,
    load_linear_stance_classifier,
    load_stance_classifier,
    macro_f1,
    vader_sentence_baseline,
)
from newsflow_enrich.nlp.stance_features import TARGET, featurize
from newsflow_enrich.nlp.stance_types import (
    ArtifactError,
    StanceClassifier,
    StanceLabel,
    TargetSentence,
)
from newsflow_schema import Entity, Mention, ModelInfo, Quote, Span, Stance

pytestmark = pytest.mark.unit


def ts(text: str, target: str) -> TargetSentence:
    start = text.index(target)
    return TargetSentence(text, start, start + len(target))


@pytest.fixture(scope="module")
def classifier() -> StanceClassifier:
    return load_linear_stance_classifier()


# --- the shipped classifier -----------------------------------------------------------


def test_artifact_is_small_json_weights_only() -> None:
    assert ARTIFACT_PATH.stat().st_size < 3_000_000
    with gzip.open(ARTIFACT_PATH, "rb") as fh:
        artifact = json.loads(fh.read())
    # Weights and vocabulary only: nothing sentence-shaped.
    assert set(artifact) >= {"format", "name", "version", "labels", "weights"}
    assert all(len(name) < 80 for name in artifact["weights"])
    # Load time is a benchmark figure (bench/), not something a test should time.
    clf = load_stance_classifier("logreg")
    assert clf.info.name and clf.info.version


def test_missing_or_foreign_artifact_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="train-stance"):
        load_linear_stance_classifier(tmp_path / "absent.json.gz")
    foreign = tmp_path / "foreign.json.gz"
    with gzip.open(foreign, "wb") as fh:
        fh.write(json.dumps({"format": "something-else/9"}).encode())
    with pytest.raises(ArtifactError, match="format"):
        load_linear_stance_classifier(foreign)


@pytest.mark.parametrize(
    ("text", "target", "expected"),
    [
        ("The senator praised Acme for its generous donation to the hospital.", "Acme", "favor"),
        ("Fans cheered as Okafor scored a brilliant winning goal.", "Okafor", "favor"),
        ("Critics blasted Acme for the deadly factory collapse.", "Acme", "against"),
        ("Lindqvist was arrested and charged with fraud.", "Lindqvist", "against"),
        ("Acme will hold its annual meeting on Tuesday.", "Acme", "neutral"),
    ],
)
def test_clear_examples_get_the_obvious_label(
    classifier: StanceClassifier, text: str, target: str, expected: StanceLabel
) -> None:
    [(label, score)] = classifier.predict([ts(text, target)])
    assert label == expected
    assert -1.0 <= score <= 1.0
    if expected == "favor":
        assert score > 0.2
    if expected == "against":
        assert score < -0.2


def test_two_targets_in_one_sentence_get_different_stances(classifier: StanceClassifier) -> None:
    # Target-aware: one sentence, opposite presentations. Sentence VADER gives both the same.
    text = "Police praised Jones for her courage, while Brown was charged with assault."
    (l_jones, s_jones), (l_brown, s_brown) = classifier.predict(
        [ts(text, "Jones"), ts(text, "Brown")]
    )
    assert l_brown == "against"
    assert s_jones > s_brown + 0.3
    vader = vader_sentence_baseline([ts(text, "Jones"), ts(text, "Brown")])
    assert vader[0] == vader[1]


def test_features_mark_the_target_and_its_window() -> None:
    f = featurize("Critics blasted Acme Corp for the collapse.", 16, 25)
    assert "u:acme" not in f and "u:corp" not in f
    assert f["L1:blasted"] == 1.0
    assert f["R1:for"] == 1.0
    assert f[f"b:blasted_{TARGET}"] == 1.0
    assert f["lex:win:neg"] > 0.0
    negated = featurize("Critics did not blame Acme.", 21, 25)
    plain = featurize("Critics did blame Acme.", 17, 21)
    assert negated["lex:win:neg"] < plain["lex:win:neg"]


def test_macro_f1() -> None:
    assert macro_f1(["favor", "against", "neutral"], ["favor", "against", "neutral"]) == 1.0
    # favor: P=1 R=.5 F=2/3; against: P=.5 R=1 F=2/3; neutral: 0 predicted, 0 gold → 0.
    assert macro_f1(["favor", "favor", "against"], ["favor", "against", "against"]) == (
        pytest.approx((2 / 3 + 2 / 3 + 0) / 3)
    )
    with pytest.raises(ValueError, match="predictions"):
        macro_f1(["favor"], [])


# --- assembling stances ---------------------------------------------------------------


class KeywordClassifier:
    """A fake that makes assembly tests independent of the learned weights."""

    info = ModelInfo(name="keyword-fake", version="1")

    def __init__(self) -> None:
        self.seen: list[TargetSentence] = []

    def predict(self, items: Sequence[TargetSentence]) -> list[tuple[StanceLabel, float]]:
        self.seen.extend(items)
        out: list[tuple[StanceLabel, float]] = []
        for item in items:
            low = item.text.lower()
            if "wonderful" in low or "praised" in low:
                out.append(("favor", 0.8))
            elif "disaster" in low or "blasted" in low:
                out.append(("against", -0.6))
            else:
                out.append(("neutral", 0.1))
        return out


class Doc:
    """A hand-built article: sentences, entities and quotes with offsets computed from text."""

    def __init__(self, *sentences: str) -> None:
        self.body = " ".join(sentences)
        self.sentences: list[tuple[int, int]] = []
        pos = 0
        for s in sentences:
            self.sentences.append((pos, pos + len(s)))
            pos += len(s) + 1

    def find(self, text: str, nth: int = 0) -> Span:
        start = -1
        for _ in range(nth + 1):
            start = self.body.index(text, start + 1)
        return Span(start=start, end=start + len(text))

    def entity(self, name: str, label: str, salience: float, *surfaces: tuple[str, int]) -> Entity:
        mentions = tuple(
            Mention(start=(sp := self.find(t, n)).start, end=sp.end, text=t) for t, n in surfaces
        )
        return Entity(
            name=name,
            label=label,
            mentions=mentions,
            mention_count=len(mentions),
            salience=salience,
        )

    def quote(
        self,
        text: str,
        speaker: str | None,
        entity: str | None,
        speaker_text: str | None = None,
        speaker_nth: int = 0,
    ) -> Quote:
        sp = self.find(text)
        return Quote(
            text=text,
            span=sp,
            speaker=speaker,
            speaker_entity=entity,
            speaker_span=self.find(speaker_text, speaker_nth) if speaker_text else None,
            cue="said",
        )


def by_key(stances: Sequence[Stance]) -> dict[tuple[str, str], Stance]:
    return {(s.holder, s.target): s for s in stances}


def test_article_and_speaker_holders_with_evidence() -> None:
    d = Doc(
        "Acme Corp opened a plant in Springfield on Monday.",
        "Mayor Jane Doe praised Acme Corp at the ceremony.",
        "“Acme Corp is a wonderful neighbour,” Doe said.",
        "Union leader Sam Roe blasted Acme Corp over pay.",
    )
    acme = d.entity(
        "Acme Corp",
        "ORG",
        0.9,
        ("Acme Corp", 0),
        ("Acme Corp", 1),
        ("Acme Corp", 2),
        ("Acme Corp", 3),
    )
    doe = d.entity("Jane Doe", "PERSON", 0.5, ("Jane Doe", 0), ("Doe", 1))
    town = d.entity("Springfield", "GPE", 0.3, ("Springfield", 0))
    monday = d.entity("Monday", "DATE", 0.95, ("Monday", 0))
    q = d.quote("Acme Corp is a wonderful neighbour,", "Doe", "Jane Doe", "Doe said")
    clf = KeywordClassifier()

    stances = by_key(
        assemble_stances(d.body, d.sentences, [acme, doe, town, monday], [q], clf, pairs_per_key=3)
    )

    # Dates are no stance target; the speaker is not their own target.
    assert all(t != "Monday" for _, t in stances)
    assert ("Jane Doe", "Jane Doe") not in stances
    # The article: sentences 1, 2 and 4 mention Acme outside the quote (1 neutral, 2 favor,
    # 4 against): a tie with neutral in it is neutral.
    article = stances[("article", "Acme Corp")]
    assert article.holder_type == "article"
    assert article.label == "neutral"
    assert article.evidence == (Span(start=d.sentences[0][0], end=d.sentences[0][1]),)
    assert article.score == pytest.approx(0.1 / 3, abs=1e-4)
    # The quoted sentence was read about Acme once, for the speaker, not for the article.
    about_acme = [i for i in clf.seen if i.text[i.target_start : i.target_end] == "Acme Corp"]
    assert sum("wonderful" in item.text for item in about_acme) == 1
    # The speaker: from the quote, with the quote as evidence.
    doe_acme = stances[("Jane Doe", "Acme Corp")]
    assert (doe_acme.holder_type, doe_acme.label, doe_acme.score) == ("speaker", "favor", 0.8)
    assert doe_acme.evidence == (q.span,)
    # "a plant in Springfield": a place used as a place holds no attitude.
    assert ("article", "Springfield") not in stances


def test_quote_without_a_target_falls_back_on_its_framing_sentence() -> None:
    d = Doc(
        "Senator Ann Kowalski said criticism of the Ministry was a disaster for the country.",
        "Kowalski warned that “it could spark a disaster.”",
    )
    ministry = d.entity("Ministry", "ORG", 0.8, ("Ministry", 0))
    ann = d.entity("Ann Kowalski", "PERSON", 0.7, ("Ann Kowalski", 0), ("Kowalski", 1))
    q = d.quote("it could spark a disaster.", "Kowalski", "Ann Kowalski", "Kowalski", 1)
    d2 = Doc(
        "Premier Li Wen spoke in Hanoi.",
        "After Hanoi voted, Li said criticism of the Ministry of Trade was “a disaster.”",
    )
    trade = d2.entity("Ministry of Trade", "ORG", 0.8, ("Ministry of Trade", 0))
    li = d2.entity("Li Wen", "PERSON", 0.6, ("Li Wen", 0), ("Li", 1))
    hanoi = d2.entity("Hanoi", "GPE", 0.7, ("Hanoi", 0), ("Hanoi", 1))
    q2 = d2.quote("a disaster.", "Li", "Li Wen", "Li said")
    first = by_key(assemble_stances(d.body, d.sentences, [ministry, ann], [q], KeywordClassifier()))
    # The quote's sentence names no target other than the speaker: no speaker stance.
    assert not any(h == "Ann Kowalski" for h, _ in first)

    second = by_key(
        assemble_stances(d2.body, d2.sentences, [trade, li, hanoi], [q2], KeywordClassifier())
    )
    li_trade = second[("Li Wen", "Ministry of Trade")]
    assert li_trade.label == "against"
    # The framing sentence is the evidence: the quote alone does not show the target.
    assert li_trade.evidence == (Span(start=d2.sentences[1][0], end=d2.sentences[1][1]),)
    # The speaker is never their own target, and "Hanoi", outside the stretch between the
    # speaker and the quote, is other news joined to the attribution.
    assert ("Li Wen", "Li Wen") not in second
    assert ("Li Wen", "Hanoi") not in second
    assert ("article", "Hanoi") in second


def test_quotes_refer_to_targets_by_pronoun_and_by_head_noun() -> None:
    d = Doc(
        "Ana Petrov beat Chloe Marchand in the final, and Petrov praised Command South.",
        "“She was wonderful today,” Marchand said.",
        "Economist Hal Dunn of Nordvik Bank said the bank was a disaster for savers.",
        "Later Dunn of Nordvik Bank said Central Bank policy was “a disaster.”",
        "“The south is a disaster,” said Mo Reid.",
    )
    petrov = d.entity("Ana Petrov", "PERSON", 0.9, ("Ana Petrov", 0), ("Petrov", 1))
    marchand = d.entity("Chloe Marchand", "PERSON", 0.8, ("Chloe Marchand", 0), ("Marchand", 1))
    central = d.entity("Central Bank", "ORG", 0.7, ("Central Bank", 0))
    nordvik = d.entity("Nordvik Bank", "ORG", 0.4, ("Nordvik Bank", 0), ("Nordvik Bank", 1))
    command = d.entity("Command South", "ORG", 0.6, ("Command South", 0))
    direct = d.quote("She was wonderful today,", "Marchand", "Chloe Marchand", "Marchand", 1)
    indirect = Quote(
        text="the bank was a disaster for savers.",
        span=d.find("the bank was a disaster for savers."),
        kind="indirect",
        speaker="Hal Dunn",
        speaker_entity="Hal Dunn",
        speaker_span=d.find("Hal Dunn"),
        cue="said",
    )
    framed = d.quote("a disaster.", "Dunn", "Hal Dunn", "Dunn", 1)
    south = d.quote("The south is a disaster,", "Mo Reid", "Mo Reid", "Mo Reid")
    stances = by_key(
        assemble_stances(
            d.body,
            d.sentences,
            [petrov, marchand, central, nordvik, command],
            [direct, indirect, framed, south],
            KeywordClassifier(),
        )
    )
    # "She", in Marchand's direct quote, is the nearest other person named before it.
    assert stances[("Chloe Marchand", "Ana Petrov")].label == "favor"
    assert stances[("Chloe Marchand", "Ana Petrov")].evidence == (direct.span,)
    # "the bank" is the most salient target whose name ends in "Bank".
    dunn = stances[("Hal Dunn", "Central Bank")]
    assert dunn.label == "against"
    assert indirect.span in dunn.evidence
    # The framing names Central Bank, but "Dunn of Nordvik Bank" is his employer, not a target.
    assert Span(start=d.sentences[3][0], end=d.sentences[3][1]) in dunn.evidence
    assert ("Hal Dunn", "Nordvik Bank") not in stances
    # "the south" is a region, even though a target's name ends in "South".
    assert not any(h == "Mo Reid" for h, _ in stances)


def test_they_in_a_quote_is_the_nearest_organisation_and_names_win_over_pronouns() -> None:
    d = Doc(
        "Analysts blamed Orvex Motors and the Traffic Board for the recall.",
        "“They ignored a disaster for a year,” said advocate Joan Hale.",
        "“She is wonderful, and Orvex Motors is a disaster,” said Sam Ng of Joan Hale's group.",
    )
    orvex = d.entity("Orvex Motors", "ORG", 0.9, ("Orvex Motors", 0), ("Orvex Motors", 1))
    board = d.entity("Traffic Board", "ORG", 0.5, ("Traffic Board", 0))
    hale = d.entity("Joan Hale", "PERSON", 0.4, ("Joan Hale", 0), ("Joan Hale", 1))
    they = d.quote("They ignored a disaster for a year,", "Joan Hale", "Joan Hale", "Joan Hale")
    named = d.quote(
        "She is wonderful, and Orvex Motors is a disaster,", "Sam Ng", "Sam Ng", "Sam Ng"
    )
    stances = by_key(
        assemble_stances(
            d.body, d.sentences, [orvex, board, hale], [they, named], KeywordClassifier()
        )
    )
    # The nearest organisation named before the quote is the Traffic Board.
    assert stances[("Joan Hale", "Traffic Board")].label == "against"
    assert stances[("Joan Hale", "Traffic Board")].evidence == (they.span,)
    assert ("Joan Hale", "Orvex Motors") not in stances
    # A quote that names a target is not also read through its pronouns.
    assert ("Sam Ng", "Orvex Motors") in stances
    assert ("Sam Ng", "Joan Hale") not in stances


def test_pronouns_in_indirect_quotes_are_not_resolved_to_others() -> None:
    d = Doc("Ana Petrov won.", "Coach Li Na said she was wonderful.")
    petrov = d.entity("Ana Petrov", "PERSON", 0.9, ("Ana Petrov", 0))
    li = d.entity("Li Na", "PERSON", 0.5, ("Li Na", 0))
    q = Quote(
        text="she was wonderful.",
        span=d.find("she was wonderful."),
        kind="indirect",
        speaker="Li Na",
        speaker_entity="Li Na",
        speaker_span=d.find("Li Na"),
    )
    stances = by_key(assemble_stances(d.body, d.sentences, [petrov, li], [q], KeywordClassifier()))
    assert ("Li Na", "Ana Petrov") not in stances
    assert ("article", "Ana Petrov") in stances


def test_unresolved_and_missing_speakers_hold_no_stance() -> None:
    d = Doc("Officials said “Acme is wonderful.”", "“Acme is a disaster,” he said.")
    acme = d.entity("Acme", "ORG", 0.9, ("Acme", 0), ("Acme", 1))
    quotes = [d.quote("Acme is wonderful.", None, None), d.quote("Acme is a disaster,", "he", None)]
    stances = assemble_stances(d.body, d.sentences, [acme], quotes, KeywordClassifier())
    # Every mention of Acme is inside a quote, so the article holds no stance either.
    assert stances == ()


def test_max_targets_keeps_the_most_salient() -> None:
    names = ["Alpha", "Bravo", "Charlie", "Delta"]
    d = Doc(*(f"{n} met reporters." for n in names))
    ents = [d.entity(n, "PERSON", 0.1 * (i + 1), (n, 0)) for i, n in enumerate(names)]
    stances = assemble_stances(d.body, d.sentences, ents, [], KeywordClassifier(), max_targets=2)
    assert {s.target for s in stances} == {"Delta", "Charlie"}


def test_majority_label_score_shrinks_with_disagreement() -> None:
    d = Doc(
        "Critics blasted Acme.",
        "Regulators blasted Acme again.",
        "Analysts praised Acme.",
    )
    acme = d.entity("Acme", "ORG", 0.9, ("Acme", 0), ("Acme", 1), ("Acme", 2))
    [stance] = assemble_stances(
        d.body, d.sentences, [acme], [], KeywordClassifier(), pairs_per_key=3
    )
    assert stance.label == "against"
    assert stance.score == pytest.approx(-0.6 * 2 / 3, abs=1e-4)
    assert stance.evidence == tuple(Span(start=a, end=b) for a, b in d.sentences[:2])


def test_with_the_shipped_classifier(classifier: StanceClassifier) -> None:
    d = Doc(
        "Police praised Officer Dana Reyes for her courage during the flood rescue.",
        "Reyes was honoured with a medal by the city.",
        "Meanwhile, Marco Vitale was charged with fraud and arrested on Friday.",
        "“Vitale betrayed every investor who trusted him,” prosecutor Lena Ortiz said.",
    )
    reyes = d.entity("Dana Reyes", "PERSON", 0.8, ("Dana Reyes", 0), ("Reyes", 1))
    vitale = d.entity("Marco Vitale", "PERSON", 0.7, ("Marco Vitale", 0), ("Vitale", 1))
    ortiz = d.entity("Lena Ortiz", "PERSON", 0.3, ("Lena Ortiz", 0))
    q = d.quote(
        "Vitale betrayed every investor who trusted him,", "Lena Ortiz", "Lena Ortiz", "Lena Ortiz"
    )
    stances = by_key(assemble_stances(d.body, d.sentences, [reyes, vitale, ortiz], [q], classifier))
    assert stances[("article", "Dana Reyes")].label == "favor"
    assert stances[("article", "Marco Vitale")].label == "against"
    speaker = stances[("Lena Ortiz", "Marco Vitale")]
    assert speaker.label == "against"
    assert speaker.score < 0
    assert speaker.evidence == (q.span,)


# --- training: split and reproducibility, on synthetic data ------------------------------

_FAVOR = ["praised", "thanked", "applauded", "celebrated"]
_AGAINST = ["blasted", "condemned", "sued", "attacked"]
_NEUTRAL = ["met", "visited", "called", "phoned"]
_NAMES = ["Acme", "Borex", "Celtra", "Dovani", "Elmira", "Fenwick"]


def _synthetic_newsmtsc(path: Path) -> None:
    polarity = {6.0: _FAVOR, 2.0: _AGAINST, 4.0: _NEUTRAL}
    serial = 100
    with path.open("w", encoding="utf-8") as fh:
        for i, name in enumerate(_NAMES):
            for value, verbs in polarity.items():
                for j, verb in enumerate(verbs):
                    serial += 1  # a number unique to this sentence
                    sentence = f"Officials in district {serial} {verb} {name} on Monday."
                    start = sentence.index(name)
                    target = {
                        "from": start,
                        "to": start + len(name),
                        "mention": name,
                        "polarity": value,
                    }
                    record = {
                        "primary_gid": f"g{i}{j}",
                        "sentence_normalized": sentence,
                        "targets": [target],
                    }
                    fh.write(json.dumps(record) + "\n")


def test_split_is_by_sentence_and_deterministic(tmp_path: Path) -> None:
    from newsflow_enrich.training.data import Example, load_examples, split_heldout

    data = tmp_path / "train.jsonl"
    _synthetic_newsmtsc(data)
    examples = load_examples(data)
    assert len(examples) == 6 * 3 * 4
    assert {ex.label for ex in examples} == {"favor", "against", "neutral"}
    # Two targets in one sentence must land on the same side.
    twin = [
        Example(TargetSentence("A met B.", 0, 1), "neutral"),
        Example(TargetSentence("A met B.", 6, 7), "neutral"),
    ]
    train, heldout = split_heldout([*examples, *twin])
    assert {ex.item.text for ex in train}.isdisjoint({ex.item.text for ex in heldout})
    assert 0 < len(heldout) < len(train)
    assert split_heldout([*examples, *twin]) == (train, heldout)


def test_malformed_data_names_the_line(tmp_path: Path) -> None:
    from newsflow_enrich.training.data import load_examples

    data = tmp_path / "bad.jsonl"
    data.write_text('{"sentence_normalized": "x", "targets": [{"from": 0}]}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:1"):
        load_examples(data)


def test_training_twice_writes_the_same_bytes_and_a_loadable_model(tmp_path: Path) -> None:
    from newsflow_enrich.training.train_logreg import main

    data = tmp_path / "train.jsonl"
    _synthetic_newsmtsc(data)
    first, second = tmp_path / "a.json.gz", tmp_path / "b.json.gz"
    assert main(["--data", str(data), "--out", str(first), "--c", "1.0"]) == 0
    assert main(["--data", str(data), "--out", str(second), "--c", "1.0"]) == 0
    assert first.read_bytes() == second.read_bytes()

    clf = load_linear_stance_classifier(first)
    probe = "Officials in district 99 praised Fenwick on Monday."
    [(label, score)] = clf.predict([ts(probe, "Fenwick")])
    assert (label, score > 0) == ("favor", True)
    with gzip.open(first, "rb") as fh:
        artifact = json.loads(fh.read())
    # Only features seen in two or more sentences: the per-sentence district numbers stay out.
    assert "u:praised" in artifact["weights"]
    assert not any(c.isdigit() for name in artifact["weights"] for c in name.split(":")[-1])


def test_heldout_newsmtsc_beats_sentence_vader() -> None:
    from newsflow_enrich.training.data import default_data_path
    from newsflow_enrich.training.stance_eval import heldout_examples, target_given_rows

    if not default_data_path().exists():
        pytest.skip(f"NewsMTSC is not at {default_data_path()}")
    rows = {r.system.split()[0]: r for r in target_given_rows(heldout_examples(), ("logreg",))}
    assert rows["logreg"].targets > 1000
    assert rows["logreg"].macro_f1 >= 0.62
    assert rows["logreg"].macro_f1 > rows["sentence"].macro_f1 + 0.1
    # The shipped artifact records the same figure its training run printed.
    with gzip.open(ARTIFACT_PATH, "rb") as fh:
        recorded = json.loads(fh.read())["heldout"]
    assert recorded["macro_f1"] == rows["logreg"].macro_f1
