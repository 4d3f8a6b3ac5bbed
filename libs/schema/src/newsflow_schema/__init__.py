"""newsflow's event contracts, shared by every service."""

from newsflow_schema import logs, topics
from newsflow_schema.cloudevents import (
    CloudEventAttributes,
    HeaderError,
    decode_headers,
    encode_headers,
    header_map,
)
from newsflow_schema.codec import DecodeError, decode, encode
from newsflow_schema.events import (
    ArticleEnrichedEvent,
    ArticleRawEvent,
    DeadLetterEvent,
    Entity,
    Event,
    Mention,
    ModelInfo,
    OriginalContent,
    Quote,
    Span,
    Stance,
    Tone,
)
from newsflow_schema.ids import InvalidURLError, article_id, canonical_url, content_hash

__all__ = [
    "ArticleEnrichedEvent",
    "ArticleRawEvent",
    "CloudEventAttributes",
    "DeadLetterEvent",
    "DecodeError",
    "Entity",
    "Event",
    "HeaderError",
    "InvalidURLError",
    "Mention",
    "ModelInfo",
    "OriginalContent",
    "Quote",
    "Span",
    "Stance",
    "Tone",
    "article_id",
    "canonical_url",
    "content_hash",
    "decode",
    "decode_headers",
    "encode",
    "encode_headers",
    "header_map",
    "logs",
    "topics",
]
