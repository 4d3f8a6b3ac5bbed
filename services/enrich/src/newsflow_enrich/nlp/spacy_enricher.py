"""Entities straight from a spaCy pipeline, grouped by surface text and label."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import spacy
from spacy import about as spacy_about

from newsflow_enrich.nlp.base import Analysis, Document, NlpConfig
from newsflow_schema import Entity, Mention, ModelInfo


class SpacyEnricher:
    def __init__(self, config: NlpConfig) -> None:
        self._config = config
        self._nlp = spacy.load(config.spacy_model)
        meta = self._nlp.meta
        self._models = (
            ModelInfo(
                name=f"{meta.get('lang', 'xx')}_{meta.get('name', config.spacy_model)}",
                version=str(meta.get("version", "unknown")),
            ),
            ModelInfo(name="spacy", version=spacy_about.__version__),
        )

    def enrich(self, docs: Sequence[Document]) -> list[Analysis]:
        results = []
        for doc in self._nlp.pipe((d.body for d in docs), batch_size=self._config.batch_size):
            groups: dict[tuple[str, str], list[Mention]] = defaultdict(list)
            for ent in doc.ents:
                groups[(ent.text, ent.label_)].append(
                    Mention(start=ent.start_char, end=ent.end_char, text=ent.text)
                )
            total = sum(len(m) for m in groups.values()) or 1
            entities = tuple(
                Entity(
                    name=name,
                    label=label,
                    mentions=tuple(mentions),
                    mention_count=len(mentions),
                    salience=round(len(mentions) / total, 4),
                )
                for (name, label), mentions in groups.items()
            )
            results.append(Analysis(language=doc.lang_, entities=entities, models=self._models))
        return results
