"""CloudEvents Kafka protocol binding, binary mode: event attributes as record headers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from newsflow_schema.events import Event

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"

Headers = list[tuple[str, bytes]]

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


class HeaderError(ValueError):
    """Record headers that do not carry a valid CloudEvent."""


@dataclass(frozen=True, slots=True)
class CloudEventAttributes:
    id: str
    type: str
    source: str
    time: datetime
    specversion: str = SPEC_VERSION
    content_type: str = CONTENT_TYPE
    subject: str | None = None
    traceparent: str | None = None


def is_valid_traceparent(value: str) -> bool:
    return bool(_TRACEPARENT.match(value)) and value.split("-")[1] != "0" * 32


def encode_headers(
    event: Event,
    *,
    source: str,
    subject: str | None = None,
    traceparent: str | None = None,
    extra: Iterable[tuple[str, str]] = (),
) -> Headers:
    """Headers for `event`: ce_* attributes, content-type, and traceparent when valid."""
    headers: Headers = [
        ("ce_specversion", SPEC_VERSION.encode()),
        ("ce_id", str(event.event_id).encode()),
        ("ce_type", event.EVENT_TYPE.encode()),
        ("ce_source", source.encode()),
        ("ce_time", event.occurred_at.isoformat().encode()),
        ("content-type", CONTENT_TYPE.encode()),
    ]
    if subject is not None:
        headers.append(("ce_subject", subject.encode()))
    if traceparent is not None and is_valid_traceparent(traceparent):
        headers.append(("traceparent", traceparent.encode()))
    headers.extend((name, value.encode()) for name, value in extra)
    return headers


def header_map(headers: Sequence[tuple[str, bytes | None]] | None) -> dict[str, str]:
    """Headers as a dict of UTF-8 strings; the last value wins, undecodable ones are dropped."""
    result: dict[str, str] = {}
    for name, value in headers or ():
        if value is None:
            continue
        try:
            result[name] = value.decode("utf-8")
        except UnicodeDecodeError:
            continue
    return result


def decode_headers(headers: Sequence[tuple[str, bytes | None]] | None) -> CloudEventAttributes:
    """The CloudEvent attributes in `headers`; HeaderError when a required one is bad."""
    found = header_map(headers)
    missing = [
        n for n in ("ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time") if n not in found
    ]
    if missing:
        raise HeaderError(f"missing CloudEvents headers: {', '.join(missing)}")
    if found["ce_specversion"] != SPEC_VERSION:
        raise HeaderError(f"unsupported ce_specversion {found['ce_specversion']!r}")
    try:
        time = datetime.fromisoformat(found["ce_time"])
    except ValueError as exc:
        raise HeaderError(f"ce_time is not an RFC 3339 time: {found['ce_time']!r}") from exc
    if time.tzinfo is None:
        raise HeaderError("ce_time has no UTC offset")
    traceparent = found.get("traceparent")
    return CloudEventAttributes(
        id=found["ce_id"],
        type=found["ce_type"],
        source=found["ce_source"],
        time=time,
        specversion=found["ce_specversion"],
        content_type=found.get("content-type", CONTENT_TYPE),
        subject=found.get("ce_subject"),
        traceparent=traceparent if traceparent and is_valid_traceparent(traceparent) else None,
    )
