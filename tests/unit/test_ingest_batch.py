"""The pure batch module: bodies to items, per-item outcomes to one answer, no HTTP."""

from __future__ import annotations

import json
import uuid

import pytest

from newsflow_ingest.batch import (
    JSON_TYPE,
    NDJSON_TYPE,
    BatchItemResult,
    LineError,
    answer,
    batch_items,
    ndjson_items,
    placed_result,
)
from newsflow_ingest.producer import Delivery, KafkaUnavailableError, RecordRejectedError
from newsflow_schema import ArticleRawEvent, OriginalContent
from newsflow_schema.http import ProblemError

pytestmark = pytest.mark.unit

EVENT = ArticleRawEvent(
    article_id=uuid.uuid4(),
    body="Body.",
    content_hash="0" * 64,
    original=OriginalContent(format="text", content="Body."),
)


def location(article_id: str) -> str:
    return f"http://reader/v1/articles/{article_id}"


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\r"])
def test_ndjson_splits_on_lf_only(separator: str) -> None:
    first = json.dumps({"text": f"one{separator}item"}, ensure_ascii=False)
    body = first + "\n" + json.dumps({"text": "two"}) + "\n"
    items = ndjson_items(body, max_items=10)
    assert items == [{"text": f"one{separator}item"}, {"text": "two"}]


def test_ndjson_crlf_and_blank_lines() -> None:
    assert ndjson_items('{"a": 1}\r\n\r\n  \n{"b": 2}\r\n', 10) == [{"a": 1}, {"b": 2}]


def test_ndjson_bad_line_fails_only_its_item_and_names_the_line() -> None:
    deep = "[" * 50_000 + "]" * 50_000
    huge = '{"text": ' + "9" * 5000 + "}"
    items = ndjson_items('{"a": 1}\n{oops\n' + deep + "\n" + huge + "\n", 10)
    assert items[0] == {"a": 1}
    assert [type(i) for i in items[1:]] == [LineError, LineError, LineError]
    assert [i.line for i in items[1:] if isinstance(i, LineError)] == [2, 3, 4]
    assert "nested too deeply" in str(items[2])
    assert "digits" in str(items[3])


def test_ndjson_over_the_item_limit_is_refused_before_parsing() -> None:
    # Unparseable lines: had they been parsed, the answer would list them, not refuse.
    with pytest.raises(ProblemError) as caught:
        ndjson_items("{bad\n" * 11, max_items=10)
    assert caught.value.status == 413


@pytest.mark.parametrize(("media", "body"), [(JSON_TYPE, "[]"), (NDJSON_TYPE, "\n \n")])
def test_empty_batch_is_422(media: str, body: str) -> None:
    with pytest.raises(ProblemError) as caught:
        batch_items(media, body, 10)
    assert caught.value.status == 422
    assert caught.value.errors[0]["field"] == "body"


@pytest.mark.parametrize(
    ("body", "status"),
    [("{}", 422), ("[" * 50_000 + "]" * 50_000, 400), ("[" + "1" * 5000 + "]", 400), ("[1,", 400)],
)
def test_json_batch_bodies_that_are_refused(body: str, status: int) -> None:
    with pytest.raises(ProblemError) as caught:
        batch_items(JSON_TYPE, body, 10)
    assert caught.value.status == status


def test_json_batch_over_the_limit_is_413() -> None:
    with pytest.raises(ProblemError) as caught:
        batch_items(JSON_TYPE, json.dumps([{}] * 11), 10)
    assert caught.value.status == 413


def test_placed_results() -> None:
    stored = placed_result(0, EVENT, Delivery("t", 1, 7), location)
    assert (stored.status, stored.partition, stored.offset) == (202, 1, 7)
    assert stored.location == location(str(EVENT.article_id))
    assert placed_result(1, EVENT, RecordRejectedError("big"), location).status == 413
    assert placed_result(2, EVENT, KafkaUnavailableError("down"), location).status == 503


def result(status: int) -> BatchItemResult:
    return BatchItemResult(index=0, status=status)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([202, 202], 202),
        ([202, 422], 207),
        ([422, 400], 422),
        ([503, 503], 503),
        ([503, 422], 503),
        ([413, 503], 422),
    ],
)
def test_answer_status(statuses: list[int], expected: int) -> None:
    got = answer([result(s) for s in statuses])
    assert got.status == expected
    assert got.body.accepted == sum(1 for s in statuses if s == 202)
    assert got.body.rejected == len(statuses) - got.body.accepted
