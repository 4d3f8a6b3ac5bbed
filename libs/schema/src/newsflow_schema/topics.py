"""The Kafka topic names of newsflow: the only place they are spelled out."""

from typing import Final

RAW: Final = "news.articles.raw.v1"
ENRICHED: Final = "news.articles.enriched.v1"
DLQ: Final = "news.articles.dlq.v1"

ALL: Final[tuple[str, ...]] = (RAW, ENRICHED, DLQ)
