"""Batch bodies, without HTTP: JSON or NDJSON text → items, per-item outcomes → one answer."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from newsflow_ingest.producer import Delivery, KafkaUnavailableError, RecordRejectedError
from newsflow_schema import ArticleRawEvent
from newsflow_schema.http import ProblemError
from newsflow_schema.problems import field_error

JSON_TYPE = "application/json"
NDJSON_TYPE = "application/x-ndjson"

Outcome = Delivery | KafkaUnavailableError | RecordRejectedError


class BatchItemResult(BaseModel):
    """The outcome of one item of a batch, in input order."""

    index: int = Field(description="Position of the item in the batch (0-based).")
    status: int = Field(
        description="202 accepted (with duplicate true: already published as it is, "
        "nothing sent), 400/413/422 rejected, 503 retry later."
    )
    duplicate: bool = Field(
        default=False, description="True when this very revision was already published."
    )
    id: str | None = None
    event_id: str | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    location: str | None = None
    detail: str | None = None
    errors: list[dict[str, str]] = Field(default_factory=list)


class BatchResult(BaseModel):
    accepted: int = Field(description="Items published now or found unchanged (202).")
    rejected: int
    results: list[BatchItemResult]


@dataclass(frozen=True, slots=True)
class LineError:
    """An NDJSON line (1-based `line`) that is not a JSON value."""

    line: int
    message: str


@dataclass(frozen=True, slots=True)
class BatchAnswer:
    """The HTTP status of a whole batch and whether it is a problem (422/503) or a result."""

    status: int
    body: BatchResult


def printable(text: str) -> str:
    """`text` safe to put into a UTF-8 answer: lone surrogates written as escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _decode_error(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    if isinstance(exc, RecursionError):
        return "it is nested too deeply"
    if "digits" in str(exc):
        # int() refuses numbers of more than sys.get_int_max_str_digits() digits.
        return f"a number in it has more than {sys.get_int_max_str_digits()} digits"
    return printable(str(exc))


def loads(text: str) -> Any:
    """json.loads, raising ValueError for everything a client's JSON can make it fail with."""
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise ValueError(_decode_error(exc)) from None
    except ValueError as exc:
        raise ValueError(_decode_error(exc)) from None


def decode_json(text: str, what: str = "the body") -> Any:
    """The JSON value of `text`, or a 400 problem saying where it is malformed."""
    try:
        return loads(text)
    except ValueError as exc:
        raise ProblemError(400, f"{what} is not valid JSON: {exc}", slug="malformed-json") from None


def decode_utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ProblemError(
            400,
            f"the body is not valid UTF-8 (bad byte at position {exc.start}); send UTF-8",
            slug="invalid-utf8",
        ) from None


def _too_many(count: int | str, limit: int) -> ProblemError:
    return ProblemError(
        413,
        f"the batch has {count} articles; the limit is {limit}",
        slug="too-many-items",
    )


def _empty() -> ProblemError:
    return ProblemError(
        422,
        "the batch is empty; send at least one article",
        errors=[field_error("body", "has no articles")],
    )


def ndjson_items(text: str, max_items: int) -> list[Any | LineError]:
    """The items of an NDJSON body: one JSON value per `\\n`-terminated line.

    Only LF separates records (a CR before it is dropped): U+2028, U+2029, NEL, VT and FF
    are valid inside JSON strings. Blank lines are skipped. The lines are counted before
    any is parsed, so a body over the item limit costs no parsing.
    """
    lines = [
        (number, line) for number, line in enumerate(text.split("\n"), start=1) if line.strip()
    ]
    if len(lines) > max_items:
        raise _too_many(f"more than {max_items}", max_items)
    items: list[Any | LineError] = []
    for number, line in lines:
        try:
            items.append(loads(line.removesuffix("\r")))
        except ValueError as exc:
            items.append(LineError(number, f"line {number} is not valid JSON: {exc}"))
    return items


def batch_items(media: str, text: str, max_items: int) -> list[Any | LineError]:
    """The items of a batch body (JSON array or NDJSON), refusing empty or oversized ones."""
    if media == NDJSON_TYPE:
        items = ndjson_items(text, max_items)
    else:
        parsed = decode_json(text)
        if not isinstance(parsed, list):
            raise ProblemError(
                422,
                "a batch is a JSON array of articles (or NDJSON, one article per line)",
                errors=[field_error("body", "must be a JSON array")],
            )
        if len(parsed) > max_items:
            raise _too_many(len(parsed), max_items)
        items = parsed
    if not items:
        raise _empty()
    return items


def placed_result(
    index: int, event: ArticleRawEvent, delivery: Outcome, location: Callable[[str], str]
) -> BatchItemResult:
    """The result of an item handed to Kafka: 202 stored, 413 refused, 503 not acknowledged."""
    article_id = str(event.article_id)
    if isinstance(delivery, Delivery):
        return BatchItemResult(
            index=index,
            status=202,
            id=article_id,
            event_id=str(event.event_id),
            topic=delivery.topic,
            partition=delivery.partition,
            offset=delivery.offset,
            location=location(article_id),
        )
    status = 413 if isinstance(delivery, RecordRejectedError) else 503
    return BatchItemResult(index=index, status=status, id=article_id, detail=str(delivery))


def answer(results: Sequence[BatchItemResult]) -> BatchAnswer:
    """202 all accepted (or unchanged), 207 some, 503 none and Kafka failed them all, else 422."""
    accepted = sum(1 for r in results if r.status == 202)
    body = BatchResult(accepted=accepted, rejected=len(results) - accepted, results=list(results))
    if accepted == len(results):
        return BatchAnswer(202, body)
    if accepted:
        return BatchAnswer(207, body)
    published = [r for r in results if r.status in (413, 503)]
    if published and all(r.status == 503 for r in published):
        return BatchAnswer(503, body)
    return BatchAnswer(422, body)
