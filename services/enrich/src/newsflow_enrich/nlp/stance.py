"""Stance toward an article's salient entities: the classifier interface, the default model
trained on NewsMTSC, and the assembly of per-holder stances with evidence."""

from __future__ import annotations

import gzip
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from newsflow_enrich.nlp.stance_features import ALL_GROUPS, featurize
from newsflow_enrich.nlp.stance_onnx import OnnxStanceClassifier
from newsflow_enrich.nlp.stance_rules import SentenceOf, Side, speaker_side, stance_mentions
from newsflow_enrich.nlp.stance_types import (
    LABELS,
    ArtifactError,
    StanceClassifier,
    StanceLabel,
    TargetSentence,
)
from newsflow_schema import Entity, ModelInfo, Quote, Span, Stance

StanceModel = Literal["onnx", "logreg"]
STANCE_MODELS: tuple[StanceModel, ...] = ("onnx", "logreg")
ARTIFACT_FORMAT = "newsflow-stance-linear/1"
ARTIFACT_PATH = Path(__file__).resolve().parent / "stance_data" / "stance_newsmtsc.json.gz"

# Entities a stance can be about; dates, numbers and money have no attitude to take.
TARGET_LABELS = frozenset(
    {"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "LAW", "PRODUCT", "WORK_OF_ART"}
)
# A speaker left as a pronoun was not resolved to anyone; a stance "held by he" tells a reader
# nothing.
_UNRESOLVED_SPEAKERS = frozenset({"he", "she", "they", "it", "i", "we", "you", "him", "her"})
ARTICLE_HOLDER = "article"
# Characters around a quote, in its sentence, still read as its framing when no speaker is there.
_FRAME_GAP = 60
# What joins a speaker to their employer or party: "X of Y", "X, from Y", "X at the Y".
_AFFILIATION = re.compile(r"\s*+,?\s*+(?:(?:of|from|at|with)\s+)?(?:the\s+)?", re.IGNORECASE)
# Third-person pronouns in a direct quote point at someone other than the speaker, who says "I".
_PRONOUN = re.compile(r"\b(?:he|she|him|his|her)\b", re.IGNORECASE)
# ... and "they" in a quote usually means an organisation or a group the story named.
_PLURAL_PRONOUN = re.compile(r"\b(?:they|them|their)\b", re.IGNORECASE)
_GROUP_LABELS = frozenset({"ORG", "NORP"})
# "the bank", "the airline": a definite description naming a target by its head noun.
_DEFINITE = re.compile(r"\b[Tt]he ([a-z]{3,})\b")
# Compass words end names ("Operational Command South") but "the south" is a region.
_NOT_HEADS = frozenset({"north", "south", "east", "west", "centre", "center", "left", "right"})
# How far back (characters) a pronoun in a quote may find the person it refers to.
_ANTECEDENT_WINDOW = 400
# Sentences the model reads per (holder, target) at most, and per article at most: the
# model's cost is per pair, and an article names dozens of targets.
PAIRS_PER_KEY = 2
PAIRS_PER_ARTICLE = 32
# Of those, the pairs the transformer reads (the rest go to the logistic regression): what
# keeps the enricher within its throughput budget of bare spaCy.
MODEL_PAIRS = 16


class LinearStanceClassifier:
    """Multinomial logistic regression over target-aware sparse features, read from JSON.

    The artifact holds a vocabulary and weights only, so loading it executes nothing.
    """

    def __init__(
        self, info: ModelInfo, weights: Mapping[str, Sequence[float]], groups: Sequence[str]
    ) -> None:
        self.info = info
        self._weights = weights
        self._groups = tuple(groups)

    @classmethod
    def from_artifact(cls, artifact: Mapping[str, Any]) -> LinearStanceClassifier:
        if artifact.get("format") != ARTIFACT_FORMAT:
            raise ArtifactError(
                f"stance artifact format {artifact.get('format')!r} is not "
                f"{ARTIFACT_FORMAT!r}: retrain with `make train-stance`"
            )
        if tuple(artifact.get("labels", ())) != LABELS:
            raise ArtifactError(f"stance artifact labels {artifact.get('labels')!r} != {LABELS}")
        weights = artifact["weights"]
        if not isinstance(weights, dict) or "bias" not in weights:
            raise ArtifactError("stance artifact has no weight table with a bias row")
        unknown = set(artifact["feature_groups"]) - set(ALL_GROUPS)
        if unknown:
            raise ArtifactError(f"stance artifact uses unknown feature groups {sorted(unknown)}")
        info = ModelInfo(name=str(artifact["name"]), version=str(artifact["version"]))
        return cls(info, weights, artifact["feature_groups"])

    def probabilities(self, item: TargetSentence) -> tuple[float, float, float]:
        """(against, neutral, favor) probabilities for one item."""
        logits = [0.0, 0.0, 0.0]
        for name, value in featurize(
            item.text, item.target_start, item.target_end, self._groups
        ).items():
            row = self._weights.get(name)
            if row is not None:
                for k in range(3):
                    logits[k] += row[k] * value
        top = max(logits)
        exps = [math.exp(v - top) for v in logits]
        total = sum(exps)
        return exps[0] / total, exps[1] / total, exps[2] / total

    def predict(self, items: Sequence[TargetSentence]) -> list[tuple[StanceLabel, float]]:
        out: list[tuple[StanceLabel, float]] = []
        for item in items:
            probs = self.probabilities(item)
            best = max(range(3), key=lambda k: probs[k])
            out.append((LABELS[best], round(probs[2] - probs[0], 4)))
        return out


class TieredStanceClassifier:
    """The first `budget` items of each call (one article's pairs, most important first) to
    `primary`, the rest to the cheaper `fallback`: every target still gets a stance, and the
    costly model's time per article stays bounded."""

    def __init__(self, primary: StanceClassifier, fallback: StanceClassifier, budget: int) -> None:
        self.primary, self.fallback, self.budget = primary, fallback, budget
        self.info = ModelInfo(
            name=f"{primary.info.name}+{fallback.info.name}",
            version=f"{primary.info.version}+{fallback.info.version}",
        )

    def predict(self, items: Sequence[TargetSentence]) -> list[tuple[StanceLabel, float]]:
        head, tail = items[: self.budget], items[self.budget :]
        return self.primary.predict(head) + (self.fallback.predict(tail) if tail else [])


def load_linear_stance_classifier(path: Path | None = None) -> LinearStanceClassifier:
    """The logistic-regression baseline, from the artifact shipped in this package (< 1 s)."""
    source = path or ARTIFACT_PATH
    try:
        with gzip.open(source, "rb") as fh:
            artifact = json.loads(fh.read().decode("utf-8"))
    except FileNotFoundError as exc:
        raise ArtifactError(f"no stance artifact at {source}: run `make train-stance`") from exc
    return LinearStanceClassifier.from_artifact(artifact)


def load_stance_classifier(
    kind: StanceModel = "onnx", model_pairs: int = MODEL_PAIRS
) -> StanceClassifier:
    """The stance model a deployment picked (ENRICH_STANCE_MODEL): the fine-tuned transformer
    (int8 ONNX, the default) for the first `model_pairs` pairs of an article and the logistic
    regression for the rest, or the logistic regression alone (no onnxruntime, weaker)."""
    if kind == "logreg":
        return load_linear_stance_classifier()
    if kind == "onnx":
        return TieredStanceClassifier(
            OnnxStanceClassifier(), load_linear_stance_classifier(), model_pairs
        )
    raise ValueError(f"unknown stance model {kind!r}: use one of {STANCE_MODELS}")


# --- assembling stances for one article ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Evidence:
    holder: str
    holder_type: Literal["speaker", "article"]
    target: str
    item: TargetSentence
    span: Span


def _within(start: int, end: int, span: Span) -> bool:
    return span.start <= start and end <= span.end


def _overlaps(start: int, end: int, span: Span) -> bool:
    return start < span.end and span.start < end


def _holder(quote: Quote) -> str | None:
    name = quote.speaker_entity or quote.speaker
    if name is None or name.strip().lower() in _UNRESOLVED_SPEAKERS:
        return None
    return name


_ItemFor = Callable[[int, int], "tuple[TargetSentence, Span] | None"]


def _in_frame(
    body: str,
    start: int,
    end: int,
    quote: Quote,
    sentence_of: Callable[[int], tuple[int, int] | None],
) -> bool:
    """Whether a mention belongs to a quote's framing: in the quote's sentence, and between the
    speaker and the quote ("he said criticism of Putin should 'not go overboard'"), or, with no
    speaker in that sentence, close to the quote. A long sentence often joins other people's
    news to the attribution, and those do not carry the speaker's view. The speaker's own
    affiliation ("Henrik Dahl of Nordvik Bank said ...") is not a target either."""
    sent = sentence_of(start)
    if sent is None or not _overlaps(sent[0], sent[1], quote.span):
        return False
    speaker = quote.speaker_span
    if speaker is not None and sent[0] <= speaker.start < sent[1]:
        if _overlaps(start, end, speaker):
            return False
        if speaker.end <= start and _AFFILIATION.fullmatch(body[speaker.end : start]):
            return False
        lo, hi = min(speaker.end, quote.span.end), max(speaker.start, quote.span.start)
        return lo <= start and end <= hi
    return quote.span.start - _FRAME_GAP <= start and end <= quote.span.end + _FRAME_GAP


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _nearest_before(
    offset: int, holder: str, targets: Sequence[Entity], labels: Iterable[str]
) -> Entity | None:
    """The target (not the holder) of one of `labels` mentioned last before `offset`, within
    _ANTECEDENT_WINDOW characters."""
    wanted = frozenset(labels)
    before = [
        (m.start, t)
        for t in targets
        if t.label in wanted and t.name != holder
        for m in t.mentions
        if m.end <= offset and offset - m.start <= _ANTECEDENT_WINDOW
    ]
    return max(before, key=lambda mt: mt[0])[1] if before else None


def _references(
    body: str, quote: Quote, holder: str, targets: Sequence[Entity]
) -> list[tuple[Entity, int, int]]:
    """Targets a quote refers to without naming them: "she" → the nearest person named before
    the quote (not the speaker), "they" → the nearest organisation or group, "the bank" → the
    most salient target whose name ends in that noun ("European Central Bank"). Pronouns count
    in direct quotes only: in "X said he would resign" the pronoun is usually the speaker."""
    q0, q1 = quote.span.start, quote.span.end
    text = body[q0:q1]
    found: list[tuple[Entity, int, int]] = []
    if quote.kind == "direct":
        for pattern, labels in ((_PRONOUN, {"PERSON"}), (_PLURAL_PRONOUN, _GROUP_LABELS)):
            antecedent = _nearest_before(q0, holder, targets, labels)
            if antecedent is not None:
                found += [
                    (antecedent, q0 + m.start(), q0 + m.end()) for m in pattern.finditer(text)
                ]
    for m in _DEFINITE.finditer(text):
        head = _singular(m.group(1))
        if head in _NOT_HEADS:
            continue
        named = [
            t
            for t in targets
            if t.name != holder
            and t.label != "PERSON"
            and len(t.name.split()) >= 2
            and _singular(t.name.split()[-1].lower()) == head
        ]
        if named:
            best = max(named, key=lambda t: t.salience)
            found.append((best, q0 + m.start(), q0 + m.end()))
    return found


def stance_targets(body: str, entities: Sequence[Entity], max_targets: int) -> list[Entity]:
    """The entities a stance can be about, each cut down to the mentions that can carry one
    (a place used as a place, a nationality adjective modifying a noun cannot), most salient
    first."""
    out: list[Entity] = []
    for e in entities:
        if e.label not in TARGET_LABELS or not e.mentions:
            continue
        usable = stance_mentions(body, e)
        if usable:
            out.append(e if usable == e.mentions else e.model_copy(update={"mentions": usable}))
    out.sort(key=lambda e: (-e.salience, e.mentions[0].start))
    return out[:max_targets]


def _article_evidence(
    targets: Sequence[Entity], quotes: Sequence[Quote], item_for: _ItemFor
) -> list[_Evidence]:
    """The article's view: sentences that mention a target outside any quote."""
    quote_spans = [q.span for q in quotes]
    evidence: list[_Evidence] = []
    for target in targets:
        # By text: a headline repeated above the body is one piece of evidence, not two.
        used: set[str] = set()
        for m in target.mentions:
            if any(_overlaps(m.start, m.end, qs) for qs in quote_spans):
                continue
            found = item_for(m.start, m.end)
            if found is None or found[0].text in used:
                continue
            used.add(found[0].text)
            evidence.append(_Evidence(ARTICLE_HOLDER, "article", target.name, *found))
    return evidence


def _quote_evidence(
    body: str,
    quote: Quote,
    holder: str,
    targets: Sequence[Entity],
    sentence_of: SentenceOf,
    item_for: _ItemFor,
) -> list[_Evidence]:
    """A speaker's view from one quote: the targets it names, else those it refers to, else
    those in its framing (see _in_frame)."""
    inside = [
        (t, m.start, m.end)
        for t in targets
        if t.name != holder
        for m in t.mentions
        if _within(m.start, m.end, quote.span)
    ]
    # References ("she", "they", "the bank") only when the quote names no target: a name
    # in the quote is better evidence than a guessed antecedent.
    inside = inside or _references(body, quote, holder, targets)
    framed = inside or [
        (t, m.start, m.end)
        for t in targets
        if t.name != holder
        for m in t.mentions
        if _in_frame(body, m.start, m.end, quote, sentence_of)
    ]
    seen: set[str] = set()
    evidence: list[_Evidence] = []
    for target, start, end in sorted(framed, key=lambda tm: tm[1]):
        if target.name in seen:
            continue
        found = item_for(start, end)
        if found is None:
            continue
        seen.add(target.name)
        span = quote.span if inside else found[1]
        evidence.append(_Evidence(holder, "speaker", target.name, found[0], span))
    return evidence


def _capped(evidence: Sequence[_Evidence], per_key: int, total: int) -> list[tuple[int, _Evidence]]:
    """At most `per_key` items per (holder, target), the first in the text, and `total` in
    all, most important first: every key's first item (speakers before the article, then in
    order: the article's targets come most salient first), then the second ones, and so on.
    The cost of stance grows with the pairs the model reads. Items keep their index in
    `evidence`."""
    rank: dict[tuple[str, str], int] = {}
    ranked: list[tuple[int, int, int, _Evidence]] = []
    for i, ev in enumerate(evidence):
        key = (ev.holder, ev.target)
        n = rank.get(key, 0)
        rank[key] = n + 1
        if n < per_key:
            ranked.append((n, ev.holder_type == "article", i, ev))
    ranked.sort(key=lambda r: r[:3])
    return [(r[2], r[3]) for r in ranked[:total]]


def _predict_once(
    classifier: StanceClassifier, evidence: Sequence[_Evidence]
) -> list[tuple[StanceLabel, float]]:
    """Predictions for every item, each distinct (sentence, target) read by the model once
    (the article and a speaker often share the attribution sentence)."""
    unique = list(dict.fromkeys(ev.item for ev in evidence))
    by_item = dict(zip(unique, classifier.predict(unique), strict=True))
    return [by_item[ev.item] for ev in evidence]


def _side_aware(
    evidence: Sequence[_Evidence],
    predictions: Sequence[tuple[StanceLabel, float]],
    sides: Mapping[str, Side],
) -> list[tuple[StanceLabel, float]]:
    """A speaker talking about their own side ("Kremlin spokesman Dmitry Peskov" on Russia,
    "pro-Russian deputy Kherson chief" on Kherson) is defending it, whatever grim words the
    sentence holds ("no one is going to surrender the city"): never "against" it."""
    out: list[tuple[StanceLabel, float]] = []
    for ev, (label, score) in zip(evidence, predictions, strict=True):
        side = sides.get(ev.holder)
        if label == "against" and side is not None and side.includes(ev.target):
            out.append(("neutral", max(0.0, score)))
        else:
            out.append((label, score))
    return out


def assemble_stances(
    body: str,
    sentences: Sequence[tuple[int, int]],
    entities: Sequence[Entity],
    quotes: Sequence[Quote],
    classifier: StanceClassifier,
    max_targets: int = 32,
    pairs_per_key: int = PAIRS_PER_KEY,
    pairs_per_article: int = PAIRS_PER_ARTICLE,
) -> tuple[Stance, ...]:
    """Per (holder, target): a label, a score and the spans that drove it.

    Targets are the entities of the kinds in TARGET_LABELS, in their stance-carrying mentions
    (see stance_targets). The article's stance toward a target comes from the sentences that
    mention it outside any quote: a quote is its speaker's view, and counting it for the
    article too would make every outlet that quotes both sides look like it holds both views.
    A speaker's stance comes from the sentence of each of their quotes that mentions the
    target; when a quote names no target, its framing stands in (see _in_frame). A speaker is
    never "against" their own side (see _side_aware).
    """
    sentence_of = SentenceOf(sentences)

    def item_for(start: int, end: int) -> tuple[TargetSentence, Span] | None:
        sent = sentence_of(start)
        if sent is None or end > sent[1]:
            return None
        s0, s1 = sent
        return TargetSentence(body[s0:s1], start - s0, end - s0), Span(start=s0, end=s1)

    targets = stance_targets(body, entities, max_targets)
    by_name = {e.name: e for e in entities}
    evidence = _article_evidence(targets, quotes, item_for)
    sides: dict[str, Side] = {}
    for quote in quotes:
        holder = _holder(quote)
        if holder is None:
            continue
        if holder not in sides and holder in by_name:
            sides[holder] = speaker_side(body, by_name[holder], entities, sentence_of)
        evidence += _quote_evidence(body, quote, holder, targets, sentence_of, item_for)
    kept = _capped(evidence, pairs_per_key, pairs_per_article)
    if not kept:
        return ()
    # The classifier sees the pairs most important first (a tiered one gives those to the
    # stronger model); stances come out in text order.
    ranked = [ev for _, ev in kept]
    predicted = _side_aware(ranked, _predict_once(classifier, ranked), sides)
    in_order = sorted(zip(kept, predicted, strict=True), key=lambda kp: kp[0][0])
    return _aggregate([ev for (_, ev), _ in in_order], [p for _, p in in_order])


def _aggregate(
    evidence: Sequence[_Evidence], predictions: Sequence[tuple[StanceLabel, float]]
) -> tuple[Stance, ...]:
    """One stance per (holder, target): the majority label, scored by the mean of the
    agreeing items shrunk by the share that agrees. A tie with "neutral" in it is neutral
    (evidence split between a view and none is no clear view); a favor/against tie goes to
    the sign of the mean score."""
    groups: dict[tuple[str, str], list[tuple[_Evidence, StanceLabel, float]]] = {}
    for ev, (label, score) in zip(evidence, predictions, strict=True):
        groups.setdefault((ev.holder, ev.target), []).append((ev, label, score))
    stances: list[Stance] = []
    for (holder, target), rows in groups.items():
        votes = {lab: sum(1 for _, lb, _ in rows if lb == lab) for lab in LABELS}
        most = max(votes.values())
        tied = [lab for lab in LABELS if votes[lab] == most]
        if len(tied) == 1:
            label = tied[0]
        else:
            mean = sum(s for _, _, s in rows) / len(rows)
            label = "neutral" if "neutral" in tied else ("favor" if mean > 0 else "against")
        agreeing = [(ev, s) for ev, lb, s in rows if lb == label]
        score = sum(s for _, s in agreeing) / len(agreeing) * len(agreeing) / len(rows)
        spans = sorted({(ev.span.start, ev.span.end) for ev, _ in agreeing})
        stances.append(
            Stance(
                holder=holder,
                holder_type=rows[0][0].holder_type,
                target=target,
                label=label,
                score=round(max(-1.0, min(1.0, score)), 4),
                evidence=tuple(Span(start=a, end=b) for a, b in spans),
            )
        )
    return tuple(stances)


# --- baselines and evaluation ----------------------------------------------------------


def vader_sentence_baseline(items: Sequence[TargetSentence]) -> list[StanceLabel]:
    """Sentence-level VADER, blind to the target: the baseline the learned model must beat.

    Uses VADER's own recommended thresholds on the compound score (±0.05).
    """
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    out: list[StanceLabel] = []
    for item in items:
        compound = float(analyzer.polarity_scores(item.text)["compound"])
        out.append("favor" if compound >= 0.05 else "against" if compound <= -0.05 else "neutral")
    return out


def macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Unweighted mean of per-label F1 over the three stance labels."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    total = 0.0
    for label in LABELS:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p == label)
        fp = sum(1 for g, p in zip(gold, predicted, strict=True) if p == label and g != label)
        fn = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p != label)
        total += 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return total / len(LABELS)
