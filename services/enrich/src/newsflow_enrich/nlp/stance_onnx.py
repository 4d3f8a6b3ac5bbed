"""The default stance classifier: a fine-tuned MiniLM exported to int8 ONNX, run with
onnxruntime and tokenizers only (no torch at run time)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from newsflow_enrich.nlp.stance_types import LABELS, ArtifactError, StanceLabel, TargetSentence
from newsflow_schema import ModelInfo

ONNX_FORMAT = "newsflow-stance-onnx/1"
ONNX_DIR = Path(__file__).resolve().parent / "stance_data" / "minilm"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "model.json"
# Around the target mention in the first segment; plain characters the uncased WordPiece vocabulary
# has, so training and run time tokenise the mark the same way.
MARK_OPEN = "<<"
MARK_CLOSE = ">>"
# Pairs per onnxruntime call: padding grows with the longest pair, so moderate batches win.
BATCH = 8
# Words kept on each side of the target at run time; None keeps the whole sentence, as in
# training. A ±14-word window costs about 40 % less per pair and about 0.03 macro-F1 on the
# held-out split (model card in nlp/README.md), so the default reads what training read.
WINDOW_WORDS: int | None = None


def _window(left: str, right: str, words: int | None) -> tuple[str, str]:
    if words is None:
        return left, right
    lw, rw = left.split(" "), right.split(" ")
    # One more piece than words: the piece next to the target is the partial word at its edge.
    return " ".join(lw[-(words + 1) :]), " ".join(rw[: words + 1])


def marked(item: TargetSentence, window: int | None = None) -> tuple[str, str]:
    """(sentence with the target mention marked, the mention): the model's two segments,
    the first cut to `window` words either side of the target when given."""
    text, s, e = item.text, item.target_start, item.target_end
    mention = text[s:e]
    left, right = _window(text[:s], text[e:], window)
    return f"{left}{MARK_OPEN} {mention} {MARK_CLOSE}{right}", mention


@dataclass(frozen=True, slots=True)
class OnnxMeta:
    """What model.json tells the run time: labels in logit order, max length, provenance."""

    name: str
    version: str
    labels: tuple[str, ...]
    max_length: int

    @classmethod
    def read(cls, path: Path) -> OnnxMeta:
        try:
            raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ArtifactError(
                f"no stance model at {path.parent}: run `make train-stance`"
            ) from exc
        if raw.get("format") != ONNX_FORMAT:
            raise ArtifactError(f"{path}: format {raw.get('format')!r} is not {ONNX_FORMAT!r}")
        if tuple(raw.get("labels", ())) != LABELS:
            raise ArtifactError(f"{path}: labels {raw.get('labels')!r} != {LABELS}")
        return cls(str(raw["name"]), str(raw["version"]), LABELS, int(raw["max_length"]))


def softmax(logits: np.ndarray[Any, np.dtype[np.float32]]) -> np.ndarray[Any, Any]:
    """Row-wise softmax, stable for large logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exps = np.exp(shifted)
    return exps / exps.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


class OnnxStanceClassifier:
    """(sentence, target) pairs → stance, batched through one onnxruntime session.

    One intra-op thread: the enrich pool already runs one process per core, so more threads
    would only contend with the other workers.
    """

    def __init__(
        self, directory: Path | None = None, threads: int = 1, window: int | None = WINDOW_WORDS
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        root = directory or ONNX_DIR
        self._window = window
        self._meta = OnnxMeta.read(root / META_FILE)
        self.info = ModelInfo(name=self._meta.name, version=self._meta.version)
        tokenizer = Tokenizer.from_file(str(root / TOKENIZER_FILE))
        tokenizer.enable_truncation(self._meta.max_length, strategy="only_first")
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - a token, not a secret
        self._tokenizer = tokenizer
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(root / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}

    def probabilities(self, items: Sequence[TargetSentence]) -> np.ndarray[Any, Any]:
        """(n, 3) probabilities in LABELS order."""
        out: list[np.ndarray[Any, Any]] = []
        pairs = [marked(item, self._window) for item in items]
        # Sorted by length so each batch pads to similar lengths; restored afterwards.
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]))
        for b in range(0, len(order), BATCH):
            chunk = [pairs[i] for i in order[b : b + BATCH]]
            encodings = self._tokenizer.encode_batch(chunk)
            feeds = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
            }
            (logits,) = self._session.run(
                None, {k: v for k, v in feeds.items() if k in self._inputs}
            )
            out.append(softmax(np.asarray(logits, dtype=np.float32)))
        if not out:
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        probs = np.concatenate(out)
        restored = np.empty_like(probs)
        restored[order] = probs
        return restored

    def predict(self, items: Sequence[TargetSentence]) -> list[tuple[StanceLabel, float]]:
        probs = self.probabilities(items)
        return [(LABELS[int(row.argmax())], round(float(row[2] - row[0]), 4)) for row in probs]
