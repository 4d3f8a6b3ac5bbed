"""NewsMTSC: loading the labelled targets and the sentence-disjoint held-out split."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from newsflow_enrich.nlp.stance_types import StanceLabel, TargetSentence

DEFAULT_DATA = Path("../shared/data/newsmtsc/train.jsonl")
HELDOUT_PERCENT = 15
_POLARITY: dict[float, StanceLabel] = {2.0: "against", 4.0: "neutral", 6.0: "favor"}


@dataclass(frozen=True, slots=True)
class Example:
    item: TargetSentence
    label: StanceLabel


def default_data_path() -> Path:
    """NewsMTSC beside the repository: found from the working directory or from this file."""
    if DEFAULT_DATA.exists():
        return DEFAULT_DATA
    repo_root = Path(__file__).resolve().parents[5]
    return repo_root.parent / "shared" / "data" / "newsmtsc" / "train.jsonl"


def file_sha256(path: Path) -> str:
    """Hex digest of a file, recorded with a model as the identity of its training data."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_examples(path: Path) -> list[Example]:
    """One example per labelled target; NewsMTSC polarity mapped onto stance labels."""
    examples: list[Example] = []
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                sentence = record["sentence_normalized"]
                for target in record["targets"]:
                    examples.append(
                        Example(
                            TargetSentence(sentence, int(target["from"]), int(target["to"])),
                            _POLARITY[float(target["polarity"])],
                        )
                    )
            except (KeyError, ValueError, TypeError) as exc:
                raise ValueError(f"{path}:{line_no}: not a NewsMTSC record ({exc!r})") from exc
    return examples


def bucket(sentence: str, buckets: int) -> int:
    """A stable hash bucket of a sentence (the same on every machine and run)."""
    return int(hashlib.sha256(sentence.encode("utf-8")).hexdigest()[:8], 16) % buckets


def split_heldout(examples: Sequence[Example]) -> tuple[list[Example], list[Example]]:
    """(train, held-out), by a hash of the sentence: one sentence never lands in both."""
    train: list[Example] = []
    heldout: list[Example] = []
    for ex in examples:
        (heldout if bucket(ex.item.text, 100) < HELDOUT_PERCENT else train).append(ex)
    return train, heldout
