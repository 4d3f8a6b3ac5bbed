"""Train the logistic-regression stance baseline on NewsMTSC and write its shipped artifact.

Run from the repository root: `uv run python -m newsflow_enrich.training.train_logreg`.
Same input, same artifact: the split is a hash of each sentence, the solver is deterministic and
the weights are rounded before they are written.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from newsflow_enrich.nlp.stance import (
    ARTIFACT_FORMAT,
    ARTIFACT_PATH,
    LinearStanceClassifier,
    macro_f1,
)
from newsflow_enrich.nlp.stance_features import ALL_GROUPS, featurize
from newsflow_enrich.nlp.stance_types import LABELS, StanceLabel
from newsflow_enrich.training.data import (
    Example,
    bucket,
    default_data_path,
    load_examples,
    split_heldout,
)

# Chosen by cross-validation on the training part only (see choose_c); listed so a reader can
# see the search space.
C_GRID = (0.01, 0.03, 0.05, 0.1, 0.3)
CV_FOLDS = 4
MIN_SENTENCES = 2  # a feature must occur in two distinct sentences to be kept


def _features(examples: Sequence[Example]) -> list[dict[str, float]]:
    return [
        featurize(ex.item.text, ex.item.target_start, ex.item.target_end, ALL_GROUPS)
        for ex in examples
    ]


def _vocabulary(examples: Sequence[Example], feats: Sequence[dict[str, float]]) -> list[str]:
    """Features seen in at least MIN_SENTENCES distinct sentences, so no sentence-unique n-gram
    (nothing that could reconstruct a sentence) reaches the artifact."""
    seen: dict[str, set[str]] = defaultdict(set)
    for ex, f in zip(examples, feats, strict=True):
        for name in f:
            seen[name].add(ex.item.text)
    return sorted(name for name, sentences in seen.items() if len(sentences) >= MIN_SENTENCES)


def _fit(
    feats: Sequence[dict[str, float]], labels: Sequence[StanceLabel], vocab: list[str], c: float
) -> tuple[list[list[float]], list[float]]:
    """Multinomial logistic regression; returns (weights per feature per label, intercepts)."""
    from scipy.sparse import csr_matrix  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression

    index = {name: i for i, name in enumerate(vocab)}
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for r, f in enumerate(feats):
        for name, value in f.items():
            col = index.get(name)
            if col is not None and name != "bias":
                rows.append(r)
                cols.append(col)
                vals.append(value)
    x = csr_matrix((vals, (rows, cols)), shape=(len(feats), len(vocab)))
    # Balanced classes: the target metric is macro-F1 and "favor" is the rarest label.
    model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
    model.fit(x, [LABELS.index(y) for y in labels])
    order = [list(model.classes_).index(k) for k in range(len(LABELS))]
    weights = [[float(model.coef_[k][j]) for k in order] for j in range(len(vocab))]
    intercept = [float(model.intercept_[k]) for k in order]
    return weights, intercept


def _to_classifier(
    vocab: list[str], weights: list[list[float]], intercept: list[float], c: float
) -> tuple[LinearStanceClassifier, dict[str, Any]]:
    # Rounded so that the file is byte-identical across runs despite last-bit float noise, and
    # near-zero weights dropped to keep it small; the bias row carries the intercept.
    table = {
        name: [round(v, 4) for v in row]
        for name, row in zip(vocab, weights, strict=True)
        if name != "bias" and max(abs(v) for v in row) >= 5e-4
    }
    table["bias"] = [round(v, 4) for v in intercept]
    digest = hashlib.sha256(json.dumps(table, sort_keys=True).encode()).hexdigest()[:10]
    artifact: dict[str, Any] = {
        "format": ARTIFACT_FORMAT,
        "name": "newsflow-stance-newsmtsc-logreg",
        "version": f"1.0+{digest}",
        "labels": list(LABELS),
        "feature_groups": list(ALL_GROUPS),
        "c": c,
        "weights": table,
    }
    return LinearStanceClassifier.from_artifact(artifact), artifact


def choose_c(train: Sequence[Example], feats: Sequence[dict[str, float]]) -> dict[float, float]:
    """Mean macro-F1 per C over sentence-grouped folds of the training part."""
    scores: dict[float, float] = {}
    folds = [bucket(ex.item.text + "#cv", CV_FOLDS) for ex in train]
    for c in C_GRID:
        total = 0.0
        for k in range(CV_FOLDS):
            tr = [i for i, f in enumerate(folds) if f != k]
            va = [i for i, f in enumerate(folds) if f == k]
            tr_ex = [train[i] for i in tr]
            tr_feats = [feats[i] for i in tr]
            vocab = _vocabulary(tr_ex, tr_feats)
            w, b = _fit(tr_feats, [ex.label for ex in tr_ex], vocab, c)
            clf, _ = _to_classifier(vocab, w, b, c)
            pred = [label for label, _ in clf.predict([train[i].item for i in va])]
            total += macro_f1([train[i].label for i in va], pred)
        scores[c] = total / CV_FOLDS
        print(f"  C={c:<5} cv macro-F1 {scores[c]:.4f}", flush=True)
    return scores


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="NewsMTSC train.jsonl")
    parser.add_argument("--out", type=Path, default=ARTIFACT_PATH, help="artifact to write")
    parser.add_argument("--c", type=float, default=None, help="skip the C search, use this C")
    args = parser.parse_args(argv)
    data: Path = args.data or default_data_path()
    if not data.exists():
        parser.error(f"{data} does not exist: pass --data PATH to NewsMTSC's train.jsonl")

    train, heldout = split_heldout(load_examples(data))
    print(f"{data}: {len(train)} training targets, {len(heldout)} held out", flush=True)
    feats = _features(train)
    if args.c is None:
        scores = choose_c(train, feats)
        c = max(C_GRID, key=lambda k: (scores[k], -k))
    else:
        c = args.c
    vocab = _vocabulary(train, feats)
    w, b = _fit(feats, [ex.label for ex in train], vocab, c)
    clf, artifact = _to_classifier(vocab, w, b, c)

    gold = [ex.label for ex in heldout]
    pred = [label for label, _ in clf.predict([ex.item for ex in heldout])]
    f1 = macro_f1(gold, pred)
    acc = sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold)
    artifact["heldout"] = {
        "targets": len(heldout),
        "macro_f1": round(f1, 4),
        "accuracy": round(acc, 4),
    }

    raw = json.dumps(artifact, sort_keys=True, separators=(",", ":")).encode("utf-8")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 and no file name in the header: the same weights give the same bytes.
    with (
        args.out.open("wb") as fh,
        gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9) as gz,
    ):
        gz.write(raw)
    print(
        f"C={c}: {len(artifact['weights'])} features; held-out macro-F1 {f1:.4f}, "
        f"accuracy {acc:.4f}; wrote {args.out} ({args.out.stat().st_size} bytes)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
