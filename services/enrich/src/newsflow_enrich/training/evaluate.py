"""`make eval`: entities, quote attribution and stance on the gold set, against baselines.

Run as `uv run python -m newsflow_enrich.training.evaluate [--gold DIR] [--bench N]`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language

from newsflow_enrich.nlp.enricher import NewsEnricher, model_location
from newsflow_enrich.nlp.entities import normalise_tokens
from newsflow_enrich.nlp.stance import ARTICLE_HOLDER, macro_f1, vader_sentence_baseline
from newsflow_enrich.nlp.stance_types import TargetSentence
from newsflow_enrich.nlp.types import Analysis, Document, NlpConfig
from newsflow_enrich.training.external_eval import report_external
from newsflow_enrich.training.stance_eval import markdown, stance_rows

# The labels the gold set annotates exhaustively.
EVAL_LABELS: frozenset[str] = frozenset({"PERSON", "ORG", "GPE", "LOC"})
SAMPLE_NAME = "kherson-surrender-2022-09-13.txt"


@dataclass(frozen=True, slots=True)
class GoldQuote:
    text: str
    speaker: str | None  # None: an unnamed speaker ("the source")


@dataclass(frozen=True, slots=True)
class GoldStance:
    holder: str
    target: str
    label: str


@dataclass(frozen=True, slots=True)
class GoldDoc:
    id: str
    title: str | None
    body: str
    entities: frozenset[tuple[str, str]]
    quotes: tuple[GoldQuote, ...]
    stances: tuple[GoldStance, ...]

    def document(self) -> Document:
        return Document(key=self.id, body=self.body, title=self.title)


@dataclass(frozen=True, slots=True)
class Prf:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def key(name: str) -> str:
    return " ".join(normalise_tokens(name))


def default_gold_dir() -> Path:
    """tests/data/gold of the repository this module runs from (or the working directory)."""
    for base in (Path.cwd(), *Path(__file__).resolve().parents):
        candidate = base / "tests" / "data" / "gold"
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("no tests/data/gold found: pass --gold DIR")


def load_gold(directory: Path) -> list[GoldDoc]:
    docs: list[GoldDoc] = []
    for path in sorted(directory.glob("*.json")):
        raw: dict[str, Any] = json.loads(path.read_text("utf-8"))
        docs.append(
            GoldDoc(
                id=str(raw["id"]),
                title=raw.get("title"),
                body="\n\n".join(raw["paragraphs"]),
                entities=frozenset((key(e["name"]), e["label"]) for e in raw["entities"]),
                quotes=tuple(GoldQuote(q["text"], q.get("speaker")) for q in raw["quotes"]),
                stances=tuple(
                    GoldStance(s["holder"], s["target"], s["label"]) for s in raw["stances"]
                ),
            )
        )
    return docs


def score_entities(
    gold: Iterable[frozenset[tuple[str, str]]],
    pred: Iterable[set[tuple[str, str]]],
    labels: frozenset[str] = EVAL_LABELS,
) -> Prf:
    """Document-level typed matching: each (name, label) once per document."""
    tp = fp = fn = 0
    for g, p in zip(gold, pred, strict=True):
        g = frozenset(x for x in g if x[1] in labels)
        p = {x for x in p if x[1] in labels}
        tp += len(g & p)
        fp += len(p - g)
        fn += len(g - p)
    return Prf(tp, fp, fn)


def pipeline_entities(analysis: Analysis) -> set[tuple[str, str]]:
    return {(key(e.name), e.label) for e in analysis.entities}


def raw_entities(doc: Any) -> set[tuple[str, str]]:
    """What the raw model says: every (text, label) span is an entity."""
    return {(key(e.text), e.label_) for e in doc.ents if key(e.text)}


def _speaker_ok(gold: GoldQuote, entity: str | None, speaker: str | None) -> bool:
    if gold.speaker is None:
        return entity is None and speaker is not None
    return entity is not None and key(entity) == key(gold.speaker)


def score_quotes(docs: Sequence[GoldDoc], analyses: Sequence[Analysis]) -> tuple[int, int, int]:
    """(gold quotes, found as a direct quote, found with the right speaker)."""
    total = found = right = 0
    for doc, analysis in zip(docs, analyses, strict=True):
        direct = [q for q in analysis.quotes if q.kind == "direct"]
        for gq in doc.quotes:
            total += 1
            at = doc.body.find(gq.text)
            hit = next((q for q in direct if q.span.start <= at < q.span.end), None)
            if hit is None:
                continue
            found += 1
            right += _speaker_ok(gq, hit.speaker_entity, hit.speaker)
    return total, found, right


def baseline_quotes(docs: Sequence[GoldDoc], raw_docs: Sequence[Any]) -> int:
    """Right speakers when each quote goes to the nearest raw PERSON before it (or after it)."""
    right = 0
    for doc, rdoc in zip(docs, raw_docs, strict=True):
        persons = [(e.start_char, e.text) for e in rdoc.ents if e.label_ == "PERSON"]
        for gq in doc.quotes:
            at = doc.body.find(gq.text)
            before = [p for p in persons if p[0] < at]
            after = [p for p in persons if p[0] > at]
            guess = before[-1][1] if before else (after[0][1] if after else None)
            right += _speaker_ok(gq, guess, guess)
    return right


def _holder_key(name: str) -> str:
    return ARTICLE_HOLDER if name == ARTICLE_HOLDER else key(name)


def score_stances(
    docs: Sequence[GoldDoc], analyses: Sequence[Analysis]
) -> tuple[list[str], list[str], list[str]]:
    """Gold labels, pipeline labels and sentence-VADER labels for every gold stance.

    A stance the pipeline did not produce counts as "missing" (wrong whatever the gold).
    VADER reads the same evidence the holder offers: the holder's quotes' sentences, or for
    the article the sentences that mention the target, and votes by majority.
    """
    gold: list[str] = []
    pred: list[str] = []
    vader: list[str] = []
    for doc, analysis in zip(docs, analyses, strict=True):
        by_pair = {(_holder_key(s.holder), key(s.target)): s for s in analysis.stances}
        for gs in doc.stances:
            gold.append(gs.label)
            found = by_pair.get((_holder_key(gs.holder), key(gs.target)))
            pred.append(found.label if found else "missing")
            vader.append(_vader_for(doc, analysis, gs))
    return gold, pred, vader


def _vader_for(doc: GoldDoc, analysis: Analysis, gs: GoldStance) -> str:
    texts: list[str] = []
    if gs.holder == ARTICLE_HOLDER:
        target = key(gs.target)
        for e in analysis.entities:
            if key(e.name) == target:
                texts.extend(_sentence_around(doc.body, m.start) for m in e.mentions)
    else:
        texts.extend(
            _sentence_around(doc.body, doc.body.find(q.text))
            for q in doc.quotes
            if q.speaker is not None and key(q.speaker) == key(gs.holder)
        )
    if not texts:
        return "neutral"
    labels = vader_sentence_baseline([TargetSentence(t, 0, 0) for t in texts])
    counts = Counter(labels)
    best, n = counts.most_common(1)[0]
    return best if list(counts.values()).count(n) == 1 else "neutral"


def _sentence_around(body: str, at: int) -> str:
    start = max(body.rfind(". ", 0, at), body.rfind("\n", 0, at)) + 1
    ends = [i for i in (body.find(". ", at), body.find("\n", at)) if i != -1]
    end = min(ends) + 1 if ends else len(body)
    return body[start:end].strip()


def bench(enricher: NewsEnricher, text: str, copies: int) -> tuple[float, float]:
    """Articles/s of bare `nlp.pipe` (full model) and of the whole enricher on copies of text."""
    bare = spacy.load(model_location(enricher.config.spacy_model))
    docs = [Document(key=str(i), body=text) for i in range(copies)]
    list(bare.pipe([text] * 4))
    enricher.enrich(docs[:4])
    t0 = time.perf_counter()
    list(bare.pipe([text] * copies, batch_size=enricher.config.batch_size))
    t1 = time.perf_counter()
    enricher.enrich(docs)
    t2 = time.perf_counter()
    return copies / (t1 - t0), copies / (t2 - t1)


def _row(name: str, prf: Prf) -> str:
    return (
        f"| {name:<34} | {prf.precision:9.3f} | {prf.recall:6.3f} | {prf.f1:6.3f} "
        f"| {prf.tp:4d} | {prf.fp:4d} | {prf.fn:4d} |"
    )


def report_gold(
    name: str, docs: Sequence[GoldDoc], enricher: NewsEnricher, raw_nlp: Language
) -> None:
    analyses = enricher.enrich([d.document() for d in docs])
    raw_docs = list(raw_nlp.pipe(d.body for d in docs))

    print(f"\n## {name}: {len(docs)} texts\n")
    print("Entities (document level, typed, labels " + ", ".join(sorted(EVAL_LABELS)) + ")\n")
    print(
        "| system                             | precision | recall |     F1 |   tp |   fp |   fn |"
    )
    print(
        "|------------------------------------|-----------|--------|--------|------|------|------|"
    )
    gold_sets = [d.entities for d in docs]
    raw_sets = [raw_entities(r) for r in raw_docs]
    our_sets = [pipeline_entities(a) for a in analyses]
    print(_row("raw spaCy", score_entities(gold_sets, raw_sets)))
    print(_row("newsflow pipeline", score_entities(gold_sets, our_sets)))
    for label in sorted(EVAL_LABELS):
        only = frozenset({label})
        print(_row(f"raw spaCy, {label}", score_entities(gold_sets, raw_sets, only)))
        print(_row(f"newsflow pipeline, {label}", score_entities(gold_sets, our_sets, only)))

    total, found, right = score_quotes(docs, analyses)
    base_right = baseline_quotes(docs, raw_docs)
    print("\nQuotes (direct; attribution = right speaker entity, or unnamed when gold is)\n")
    print("| system                                  | found | right speaker | accuracy |")
    print("|-----------------------------------------|-------|---------------|----------|")
    print(
        f"| nearest raw PERSON before the quote     |   n/a | {base_right:13d} "
        f"| {base_right / max(total, 1):8.3f} |"
    )
    print(
        f"| newsflow pipeline                       | {found:5d} | {right:13d} "
        f"| {right / max(total, 1):8.3f} |"
    )
    print(f"(gold quotes: {total})")

    gold, pred, vader = score_stances(docs, analyses)
    print("\nStance on the gold (holder, target) pairs (macro-F1 over against/neutral/favor)\n")
    print("| targets | newsflow model | sentence VADER |")
    print("|---------|----------------|----------------|")
    if gold:
        print(f"| {len(gold):7d} | {macro_f1(gold, pred):14.3f} | {macro_f1(gold, vader):14.3f} |")


def run(
    gold_dirs: Sequence[Path], bench_copies: int, sample: Path | None, model: str | None = None
) -> None:
    enricher = NewsEnricher(NlpConfig(spacy_model=model) if model else NlpConfig())
    raw_nlp = spacy.load(model_location(enricher.config.spacy_model))
    print(f"# newsflow NLP evaluation (default spaCy pipeline {enricher.config.spacy_model})")
    report_external()

    print("\n## NewsMTSC held-out split (stance, beside the logistic regression and VADER)\n")
    try:
        print(markdown(stance_rows()))
    except FileNotFoundError as exc:
        print(f"unavailable: {exc}")

    print("\n# Self-written gold set: written with the rules, not a measure of real news")
    for directory in gold_dirs:
        report_gold(str(directory), load_gold(directory), enricher, raw_nlp)

    if bench_copies and sample is not None and sample.is_file():
        bare, full = bench(enricher, sample.read_text("utf-8"), bench_copies)
        print(
            f"\nThroughput on {sample.name}, {bench_copies} copies, 1 process: "
            f"bare nlp.pipe {bare:.1f} articles/s, newsflow enricher {full:.1f} articles/s "
            f"({bare / full:.2f}x)"
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--gold", type=Path, default=None, help="gold directory (default: gold/ and heldout/)"
    )
    parser.add_argument("--bench", type=int, default=0, help="copies of the sample to time")
    parser.add_argument("--sample", type=Path, default=None, help="article to time")
    parser.add_argument(
        "--model", default=None, help="spaCy pipeline (package name or path) instead of the default"
    )
    args = parser.parse_args(argv)
    if args.gold is not None:
        gold_dirs = [args.gold]
    else:
        gold = default_gold_dir()
        gold_dirs = [gold, *[p for p in [gold.parent / "heldout"] if p.is_dir()]]
    repo = gold_dirs[0].resolve().parents[2]
    sample = args.sample or repo / "tests" / "data" / "samples" / SAMPLE_NAME
    run(gold_dirs, args.bench, sample, args.model)


if __name__ == "__main__":
    main()
