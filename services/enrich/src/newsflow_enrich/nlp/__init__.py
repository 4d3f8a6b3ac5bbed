"""The NLP stage behind one interface: documents in, analyses out (pure, no I/O)."""

from newsflow_enrich.nlp.base import Analysis, Document, Enricher, NlpConfig, load_enricher

__all__ = ["Analysis", "Document", "Enricher", "NlpConfig", "load_enricher"]
