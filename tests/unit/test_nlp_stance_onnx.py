"""The shipped ONNX stance model: its artifact, its run time (no torch) and its predictions."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from newsflow_enrich.nlp.stance import load_stance_classifier
from newsflow_enrich.nlp.stance_onnx import (
    META_FILE,
    MODEL_FILE,
    ONNX_DIR,
    ONNX_FORMAT,
    OnnxStanceClassifier,
    marked,
)
from newsflow_enrich.nlp.stance_types import LABELS, ArtifactError, TargetSentence

pytestmark = pytest.mark.unit


def ts(text: str, target: str) -> TargetSentence:
    start = text.index(target)
    return TargetSentence(text, start, start + len(target))


@pytest.fixture(scope="module")
def classifier() -> OnnxStanceClassifier:
    return OnnxStanceClassifier()


def test_artifact_is_small_and_describes_itself() -> None:
    size = (ONNX_DIR / MODEL_FILE).stat().st_size
    assert 10_000_000 < size < 30_000_000
    meta = json.loads((ONNX_DIR / META_FILE).read_text("utf-8"))
    assert meta["format"] == ONNX_FORMAT
    assert tuple(meta["labels"]) == LABELS
    assert meta["version"].endswith(meta["metrics"]["data_sha256"][:10])
    # The int8 model loses little against the float model it was quantised from.
    int8, fp32 = meta["metrics"]["heldout_int8"], meta["metrics"]["heldout_fp32"]
    assert int8["macro_f1"] > fp32["macro_f1"] - 0.02


def test_runs_without_torch_on_one_thread(classifier: OnnxStanceClassifier) -> None:
    assert "torch" not in sys.modules and "transformers" not in sys.modules
    assert classifier._session.get_session_options().intra_op_num_threads == 1
    assert classifier.info.name == "newsflow-stance-newsmtsc-minilm"
    # The default reads an article's first pairs with the transformer, the rest with the
    # logistic regression, and its provenance names both.
    tiered = load_stance_classifier("onnx")
    assert tiered.info.name == f"{classifier.info.name}+newsflow-stance-newsmtsc-logreg"
    assert tiered.info.version.startswith(classifier.info.version + "+")


def test_missing_or_foreign_artifact_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="train-stance"):
        OnnxStanceClassifier(tmp_path)
    for name in ("model.onnx", "tokenizer.json"):
        shutil.copyfile(ONNX_DIR / name, tmp_path / name)
    (tmp_path / META_FILE).write_text(json.dumps({"format": "other/1"}), "utf-8")
    with pytest.raises(ArtifactError, match="format"):
        OnnxStanceClassifier(tmp_path)
    with pytest.raises(ValueError, match="unknown stance model"):
        load_stance_classifier("bert")  # type: ignore[arg-type]


def test_the_target_is_marked_and_repeated_in_a_window() -> None:
    first, second = marked(ts("Critics blasted Acme for it.", "Acme"))
    assert first == "Critics blasted << Acme >> for it."
    assert second == "Acme"
    long = ts("One two three four Acme's five six seven eight.", "Acme")
    assert marked(long, 2) == ("three four << Acme >>'s five six", "Acme")


def test_batches_agree_with_single_items_in_order(classifier: OnnxStanceClassifier) -> None:
    items = [
        ts("Police praised Jones for her courage, while Brown was charged with assault.", t)
        for t in ("Jones", "Brown")
    ] + [
        ts(f"Acme will hold its annual meeting on day {i} of the month.", "Acme") for i in range(20)
    ]
    together = classifier.predict(items)
    alone = [classifier.predict([item])[0] for item in items]
    assert len(together) == len(items)
    for (la, sa), (lb, sb) in zip(together, alone, strict=True):
        # Dynamic int8 quantisation scales activations per batch: scores move a little.
        assert la == lb
        assert sa == pytest.approx(sb, abs=0.15)
    assert classifier.predict([]) == []
