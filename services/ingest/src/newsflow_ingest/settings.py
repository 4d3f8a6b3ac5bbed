"""The ingest service's settings, read from the environment (INGEST_* plus shared names)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the ingest service can be told; every address and limit comes from here."""

    model_config = SettingsConfigDict(
        env_prefix="INGEST_",
        env_file=".env",
        env_ignore_empty=True,
        extra="ignore",
        populate_by_name=True,
    )

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "INGEST_KAFKA_BOOTSTRAP_SERVERS"),
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(
        default=1,
        ge=1,
        description="Server processes (uvicorn workers); each has its own normalisers.",
    )
    normalise_processes: int | None = Field(
        default=0,
        ge=0,
        description="Worker processes that validate and normalise articles, per server "
        "process; 0 (the default): threads of the server process, sharing its GIL with the "
        "event loop. N > 0: N worker processes (`bench/README.md` measures 2 on 2 cores).",
    )
    log_level: str = "info"
    log_format: Literal["json", "text"] = Field(
        default="json", description="json: one JSON object per line, with trace and article ids."
    )

    api_keys: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        repr=False,
        description="Comma-separated API keys; when any is set, write endpoints require one.",
    )
    read_api_base_url: str = Field(
        default="http://127.0.0.1:8001",
        description="Base URL of the read API (the enrich service) used in Location headers.",
    )
    ce_source: str = Field(default="/newsflow/ingest", description="CloudEvents `source`.")
    kafka_client_id: str = "newsflow-ingest"

    max_body_bytes: int = Field(default=1_048_576, gt=0, description="Limit of one article.")
    max_batch_body_bytes: int = Field(default=8_388_608, gt=0, description="Limit of a batch.")
    max_batch_items: int = Field(default=100, gt=0)
    max_text_chars: int = Field(default=200_000, gt=0, description="Limit of `text`/`html`.")
    max_future_s: float = Field(
        default=86_400.0, ge=0, description="How far ahead of now published_at may be."
    )

    recent_revisions: int = Field(
        default=10_000,
        ge=0,
        description="Articles whose last published revision is remembered, to answer an "
        "identical re-post 'unchanged' (duplicate: true) without publishing it again "
        "(0: never).",
    )

    # On a replicated cluster a dead leader is replaced within the brokers' session timeout
    # (6-9 s) plus a metadata refresh: 15 s rides that out, so a failover costs latency, not
    # a 503. Below kafka_request_timeout_ms, so the producer never gives up first.
    publish_timeout_s: float = Field(
        default=15.0, gt=0, description="Longest wait for Kafka to acknowledge a request."
    )
    kafka_request_timeout_ms: int = Field(
        default=30_000,
        gt=0,
        description="Producer request timeout; also how long a record may wait for a leader.",
    )
    kafka_retry_backoff_ms: int = Field(
        default=250, ge=0, description="Producer wait before retrying (e.g. NotLeader)."
    )
    ready_timeout_s: float = Field(default=2.0, gt=0, description="Bound of the /readyz probe.")
    retry_after_s: int = Field(default=5, ge=1, description="Retry-After sent with a 503.")
    connect_backoff_s: float = Field(
        default=1.0, gt=0, description="Wait between attempts to reach Kafka at start."
    )
    shutdown_timeout_s: float = Field(
        default=10.0, gt=0, description="Longest wait to flush pending sends at shutdown."
    )
    linger_ms: int = Field(default=5, ge=0, description="Producer batching delay.")
    max_request_size: int = Field(default=1_048_576, gt=0)
    max_batch_size: int = Field(
        default=1_048_576, gt=0, description="Producer batch size in bytes, per partition."
    )

    @property
    def normalise_pool_size(self) -> int:
        """How many normalisation worker processes to run (0: threads instead)."""
        if self.normalise_processes is not None:
            return self.normalise_processes
        return max(1, usable_cores() // self.workers)

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            keys = tuple(key.strip() for key in value.split(",") if key.strip())
            if not keys:
                # Set but blank (" , "): failing open would silently allow every write.
                raise ValueError(
                    "INGEST_API_KEYS is set but holds no usable key; give comma-separated "
                    "keys, or unset it to leave writes open"
                )
            return keys
        return value


def cgroup_cpu_limit(
    membership: Path = Path("/proc/self/cgroup"), root: Path = Path("/sys/fs/cgroup")
) -> float | None:
    """The CPU limit of this process's cgroup (a container's CPU limit), if it has one."""
    try:
        lines = membership.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        relative = path.lstrip("/")
        try:
            if controllers == "":  # cgroup v2: "max 100000" or "<quota> <period>"
                quota, period = (root / relative / "cpu.max").read_text().split()
            elif "cpu" in controllers.split(","):  # cgroup v1
                quota = (root / "cpu" / relative / "cpu.cfs_quota_us").read_text().strip()
                period = (root / "cpu" / relative / "cpu.cfs_period_us").read_text().strip()
            else:
                continue
            if quota not in ("max", "-1") and int(period) > 0:
                return int(quota) / int(period)
        except (OSError, ValueError):
            continue
    return None


def usable_cores() -> int:
    """The CPUs this process may use: its affinity mask, capped by a cgroup CPU limit."""
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:
        cores = os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    if limit is not None:
        cores = min(cores, math.ceil(limit))
    return max(1, cores)
