"""The NLP stage behind one interface: documents in, analyses out (pure, no I/O)."""

from newsflow_enrich.nlp.enricher import load_enricher
from newsflow_enrich.nlp.types import Analysis, Document, Enricher, NlpConfig

__all__ = ["Analysis", "Document", "Enricher", "NlpConfig", "load_enricher"]
