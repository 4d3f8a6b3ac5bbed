"""Stance on the held-out NewsMTSC split: each model with the target given, and the whole
enricher (entities → targets → stance assembly) on the same sentences, beside sentence VADER."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from newsflow_enrich.nlp.stance import (
    ARTICLE_HOLDER,
    StanceModel,
    load_stance_classifier,
    macro_f1,
    vader_sentence_baseline,
)
from newsflow_enrich.nlp.stance_types import StanceClassifier, StanceLabel
from newsflow_enrich.nlp.types import Analysis, Document, NlpConfig
from newsflow_enrich.training.data import Example, default_data_path, load_examples, split_heldout


@dataclass(frozen=True, slots=True)
class StanceRow:
    """One line of the stance table."""

    system: str
    setting: str
    targets: int
    macro_f1: float
    accuracy: float
    # Pipeline rows: the share of targets the pipeline found as an entity and gave a stance.
    coverage: float | None = None


def _row(system: str, setting: str, gold: Sequence[str], pred: Sequence[str]) -> StanceRow:
    acc = sum(g == p for g, p in zip(gold, pred, strict=True)) / max(1, len(gold))
    return StanceRow(system, setting, len(gold), round(macro_f1(gold, pred), 4), round(acc, 4))


def heldout_examples(data: Path | None = None) -> list[Example]:
    """The held-out part of NewsMTSC, the same split every trainer holds out."""
    return split_heldout(load_examples(data or default_data_path()))[1]


def _target_given_classifiers(
    models: Sequence[StanceModel],
) -> list[tuple[str, StanceClassifier]]:
    """The bare classifiers: the run-time "onnx" setting adds a per-article budget that
    would hand all but the first pairs of this one long call to the fallback."""
    from newsflow_enrich.nlp.stance_onnx import OnnxStanceClassifier

    out: list[tuple[str, StanceClassifier]] = []
    for kind in models:
        if kind == "onnx":
            out.append(("onnx, whole sentence (run time)", OnnxStanceClassifier()))
            out.append(("onnx, ±14-word window", OnnxStanceClassifier(window=14)))
        else:
            out.append((kind, load_stance_classifier(kind)))
    return out


def target_given_rows(
    heldout: Sequence[Example], models: Sequence[StanceModel] = ("onnx", "logreg")
) -> list[StanceRow]:
    """Each classifier told which mention is the target, and sentence VADER (blind to it)."""
    items = [ex.item for ex in heldout]
    gold = [ex.label for ex in heldout]
    rows: list[StanceRow] = []
    for name, clf in _target_given_classifiers(models):
        pred = [label for label, _ in clf.predict(items)]
        rows.append(
            _row(f"{name} ({clf.info.name} {clf.info.version})", "target given", gold, pred)
        )
    rows.append(_row("sentence VADER", "target given", gold, vader_sentence_baseline(items)))
    return rows


def pipeline_label(analysis: Analysis, example: Example) -> StanceLabel | None:
    """The article's stance toward the entity whose mention covers the target, if any."""
    s, e = example.item.target_start, example.item.target_end
    names = {
        ent.name
        for ent in analysis.entities
        if any(m.start < e and s < m.end for m in ent.mentions)
    }
    for stance in analysis.stances:
        if stance.holder == ARTICLE_HOLDER and stance.target in names:
            return stance.label
    return None


def pipeline_rows(
    heldout: Sequence[Example], models: Sequence[StanceModel] = ("onnx", "logreg")
) -> list[StanceRow]:
    """Each held-out sentence posted as an article (with the run-time stance settings); a
    target the pipeline gives no stance counts as "neutral" (what a reader sees: no attitude
    reported)."""
    from newsflow_enrich.nlp.enricher import NewsEnricher

    gold = [ex.label for ex in heldout]
    docs = [Document(key=str(i), body=ex.item.text) for i, ex in enumerate(heldout)]
    rows: list[StanceRow] = []
    for kind in models:
        enricher = NewsEnricher(NlpConfig(stance_model=kind))
        analyses = enricher.enrich(docs)
        found = [pipeline_label(a, ex) for a, ex in zip(analyses, heldout, strict=True)]
        row = _row(f"pipeline, {kind}", "targets found", gold, [f or "neutral" for f in found])
        coverage = round(sum(f is not None for f in found) / max(1, len(found)), 4)
        rows.append(
            StanceRow(row.system, row.setting, row.targets, row.macro_f1, row.accuracy, coverage)
        )
    return rows


def stance_rows(data: Path | None = None, pipeline: bool = True) -> list[StanceRow]:
    """The whole stance table, in one run."""
    heldout = heldout_examples(data)
    rows = target_given_rows(heldout)
    if pipeline:
        rows += pipeline_rows(heldout)
    return rows


def markdown(rows: Sequence[StanceRow]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| system | setting | targets | macro-F1 | accuracy | stance coverage |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        cov = "" if r.coverage is None else f"{r.coverage:.2f}"
        lines.append(
            f"| {r.system} | {r.setting} | {r.targets} | {r.macro_f1:.3f} | {r.accuracy:.3f} "
            f"| {cov} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(stance_rows()))
