"""The CLI's settings: service addresses and the API key, from env vars or flags."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where the CLI finds newsflow; flags override the environment."""

    model_config = SettingsConfigDict(
        env_ignore_empty=True, extra="ignore", populate_by_name=True, frozen=True
    )

    ingest_url: str = Field(
        default="http://127.0.0.1:8000",
        validation_alias=AliasChoices("ingest_url", "NEWSFLOW_INGEST_URL"),
    )
    read_url: str = Field(
        default="http://127.0.0.1:8001",
        validation_alias=AliasChoices("read_url", "NEWSFLOW_READ_URL"),
    )
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("kafka_bootstrap_servers", "KAFKA_BOOTSTRAP_SERVERS"),
    )
    api_key: str | None = Field(
        default=None,
        repr=False,
        validation_alias=AliasChoices("api_key", "NEWSFLOW_API_KEY"),
    )
    read_api_key: str | None = Field(
        default=None,
        repr=False,
        validation_alias=AliasChoices("read_api_key", "NEWSFLOW_READ_API_KEY"),
        description="A key of the read API's ENRICH_API_KEYS, when it requires one.",
    )
    http_timeout_s: float = Field(
        default=30.0,
        gt=0,
        validation_alias=AliasChoices("http_timeout_s", "NEWSFLOW_HTTP_TIMEOUT_S"),
    )

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def read_headers(self) -> dict[str, str]:
        """Headers for the read API: its own key (ENRICH_API_KEYS), if one is given."""
        return {"Authorization": f"Bearer {self.read_api_key}"} if self.read_api_key else {}
