"""The stance classifier's interface and the types every stance model shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from newsflow_schema import ModelInfo

StanceLabel = Literal["favor", "against", "neutral"]

# Index order of the artifact's weight rows.
LABELS: tuple[StanceLabel, StanceLabel, StanceLabel] = ("against", "neutral", "favor")


@dataclass(frozen=True)
class TargetSentence:
    """A sentence and the character offsets of the target mention within it."""

    text: str
    target_start: int
    target_end: int


class StanceClassifier(Protocol):
    info: ModelInfo

    def predict(self, items: Sequence[TargetSentence]) -> list[tuple[StanceLabel, float]]:
        """One (label, score) per item; score in [-1, 1], sign = direction, size = confidence."""
        ...


class ArtifactError(ValueError):
    """The stance artifact is missing, of another format, or malformed."""
