"""Prometheus metrics of one enrich app, in a registry of its own (tests build many apps)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.consumer_lag = Gauge(
            "enrich_consumer_lag_records",
            "Records behind the partition's high watermark after the last batch.",
            ["partition"],
            registry=r,
        )
        self.batch_size = Histogram(
            "enrich_batch_size_records",
            "Records per consumed batch.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=r,
        )
        self.nlp_seconds = Histogram(
            "enrich_nlp_seconds",
            "Wall time of the NLP stage per batch.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=r,
        )
        self.records = Counter(
            "enrich_records_total",
            "Consumed records by outcome.",
            ["outcome"],
            registry=r,
        )
        self.dlq = Counter(
            "enrich_dlq_records_total", "Records sent to the dead-letter topic.", registry=r
        )
        self.failures = Counter(
            "newsflow_enrich_failures",
            "Records that ended as failed (stored as failed and dead-lettered), by reason.",
            ["reason"],
            registry=r,
        )
        self.transient_failures = Counter(
            "enrich_transient_failures_total",
            "Batches retried after a transient failure (database or Kafka down).",
            ["stage"],
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "enrich_outbox_backlog_rows", "Outbox rows not yet published.", registry=r
        )
        self.outbox_published = Counter(
            "enrich_outbox_published_total", "Outbox rows published.", registry=r
        )
