"""The default enricher: segment → spaCy → entity resolution → quotes → stances → tone."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import spacy
from spacy import about as spacy_about

from newsflow_enrich.nlp.attribute_rules import use_batch_attribute_ruler
from newsflow_enrich.nlp.entities import ParsedSegment, resolve_entities
from newsflow_enrich.nlp.quotes import extract_quotes
from newsflow_enrich.nlp.segment import NLP_KINDS, Segment, segment
from newsflow_enrich.nlp.stance import assemble_stances, load_stance_classifier
from newsflow_enrich.nlp.stance_types import StanceClassifier
from newsflow_enrich.nlp.tone import tone
from newsflow_enrich.nlp.types import Analysis, Document, Enricher, NlpConfig
from newsflow_schema import ModelInfo

# Nothing downstream reads lemmas (cue verbs are matched by their inflected forms), and the
# lemmatizer is a measurable share of the pipeline's time.
_EXCLUDE = ("lemmatizer",)
# Segments are a paragraph or a line each, so a batch of articles is many more texts.
_SEGMENTS_PER_ARTICLE = 12
# Provenance of an analysis made in degraded mode (entities and tone only).
DEGRADED = ModelInfo(name="newsflow-degraded", version="entities+tone")


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """A document split into segments, each parsed; what the rule stages work from."""

    document: Document
    segments: tuple[ParsedSegment, ...]

    def sentences(self) -> list[tuple[int, int]]:
        """Sentence boundaries in body offsets (no sentence crosses a segment)."""
        out: list[tuple[int, int]] = []
        for ps in self.segments:
            base = ps.segment.start
            out.extend((base + s.start_char, base + s.end_char) for s in ps.doc.sents)
        return out


def model_location(model: str) -> str | Path:
    """A package name or path spaCy can load; a vendoring package gives its data directory."""
    try:
        module = importlib.import_module(model)
    except ImportError:
        return model
    # A package that ships a pipeline as data (not as a spaCy model package) exposes its path.
    path_of = getattr(module, "model_path", None)
    return Path(path_of()) if callable(path_of) and not hasattr(module, "load") else model


def load_spacy(model: str) -> spacy.language.Language:
    """The spaCy pipeline without the components the rules do not use, its attribute ruler
    applied a batch at a time (same attributes, a sixth less time; see attribute_rules)."""
    nlp = spacy.load(model_location(model), exclude=list(_EXCLUDE))
    use_batch_attribute_ruler(nlp)
    if not ({"parser", "senter", "sentencizer"} & set(nlp.pipe_names)):
        # A pipeline without a parser still needs sentence boundaries for quotes and stance.
        nlp.add_pipe("sentencizer", first=True)
    return nlp


def model_infos(nlp: spacy.language.Language, name: str) -> tuple[ModelInfo, ...]:
    meta = nlp.meta
    return (
        ModelInfo(
            name=f"{meta.get('lang', 'xx')}_{meta.get('name', name)}",
            version=str(meta.get("version", "unknown")),
        ),
        ModelInfo(name="spacy", version=spacy_about.__version__),
    )


def parse(
    nlp: spacy.language.Language, docs: Sequence[Document], batch_size: int = 16
) -> list[ParsedDocument]:
    """Segment every document and run spaCy once over all their prose segments."""
    segmented: list[list[Segment]] = [
        [s for s in segment(d.body) if s.kind in NLP_KINDS] for d in docs
    ]
    flat = [s for segs in segmented for s in segs]
    parsed_iter = iter(
        nlp.pipe((s.nlp_text for s in flat), batch_size=max(1, batch_size * _SEGMENTS_PER_ARTICLE))
    )
    out: list[ParsedDocument] = []
    for d, segs in zip(docs, segmented, strict=True):
        out.append(ParsedDocument(d, tuple(ParsedSegment(s, next(parsed_iter)) for s in segs)))
    return out


class NewsEnricher:
    """Entities a reader can trust, quotes with speakers, stances with evidence, tone."""

    def __init__(
        self, config: NlpConfig, stance_classifier: StanceClassifier | None = None
    ) -> None:
        self._config = config
        self._nlp = load_spacy(config.spacy_model)
        self._stance = stance_classifier or load_stance_classifier(
            config.stance_model, config.stance_model_pairs
        )
        self._models = (
            *model_infos(self._nlp, config.spacy_model),
            self._stance.info,
            ModelInfo(name="newsflow-rules", version="1"),
        )

    @property
    def config(self) -> NlpConfig:
        return self._config

    @property
    def nlp(self) -> spacy.language.Language:
        return self._nlp

    def enrich(self, docs: Sequence[Document]) -> list[Analysis]:
        return [self.analyse(p) for p in parse(self._nlp, docs, self._config.batch_size)]

    def analyse(self, parsed: ParsedDocument) -> Analysis:
        doc = parsed.document
        body = doc.body
        resolved = resolve_entities(body, parsed.segments, doc.title)
        entities = tuple(e.to_schema(body) for e in resolved)
        prose = "\n".join(body[ps.segment.start : ps.segment.end] for ps in parsed.segments)
        language = doc.language or str(self._nlp.lang)
        if doc.degraded:
            # Over the time budget: skip the costliest stages, and say so in the provenance.
            return Analysis(
                language=language,
                entities=entities,
                tone=tone(prose),
                models=(*self._models, DEGRADED),
            )
        quotes = tuple(
            extract_quotes(body, parsed.segments, resolved, indirect=self._config.indirect_quotes)
        )
        stances = assemble_stances(
            body,
            parsed.sentences(),
            entities,
            quotes,
            self._stance,
            max_targets=self._config.max_stance_targets,
        )
        return Analysis(
            language=language,
            entities=entities,
            quotes=quotes,
            stances=stances,
            tone=tone(prose),
            models=self._models,
        )


def load_enricher(config: NlpConfig) -> Enricher:
    """Load the default enricher (loads models: call once per worker process)."""
    return NewsEnricher(config)
