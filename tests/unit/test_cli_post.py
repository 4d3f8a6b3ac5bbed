"""`newsflow post` sending: chunking, per-item outcomes, retries, splitting, duplicates."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from newsflow_cli.files import Item
from newsflow_cli.post import (
    BatchSender,
    Outcome,
    PostAborted,
    chunks,
    find_duplicates,
    find_known,
    payload_size,
)
from newsflow_cli.settings import Settings

pytestmark = pytest.mark.unit

SETTINGS = Settings(ingest_url="http://ingest", read_url="http://read", api_key="k1")


def items(n: int, text: str = "x") -> list[Item]:
    return [Item(f"f{i}", {"text": f"{text}{i}"}) for i in range(n)]


def client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def accepted(index: int, article: str | None = None) -> dict[str, object]:
    return {"index": index, "status": 202, "id": article or f"id{index}", "event_id": f"e{index}"}


def test_chunks_respect_item_and_byte_limits() -> None:
    many = items(250)
    assert [len(c) for c in chunks(many, 100, 10**9)] == [100, 100, 50]
    big = [Item(f"b{i}", {"text": "y" * 1000}) for i in range(5)]
    size = payload_size(big[0])
    assert [len(c) for c in chunks(big, 100, 2 * size + 2)] == [2, 2, 1]
    # One item larger than the byte budget still goes, alone: ingest decides about it.
    assert [len(c) for c in chunks(big[:2], 100, 10)] == [1, 1]


def test_mixed_answer_gives_per_item_outcomes_and_sends_the_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            207,
            json={
                "accepted": 1,
                "rejected": 1,
                "results": [
                    accepted(0),
                    {
                        "index": 1,
                        "status": 422,
                        "detail": "the article is invalid; see errors",
                        "errors": [{"field": "url", "message": "must be an absolute URL"}],
                    },
                ],
            },
        )

    outcomes = BatchSender(client(handler), SETTINGS).send(items(2))
    assert outcomes == [
        Outcome("f0", 202, "id0", "e0"),
        Outcome(
            "f1", 422, reason="the article is invalid; see errors (url: must be an absolute URL)"
        ),
    ]
    [request] = seen
    assert str(request.url) == "http://ingest/v1/articles:batch"
    assert request.headers["authorization"] == "Bearer k1"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == [{"text": "x0"}, {"text": "x1"}]


def test_503_is_retried_after_retry_after_then_succeeds() -> None:
    answers = [
        httpx.Response(503, headers={"Retry-After": "3"}, json={"detail": "Kafka down"}),
        httpx.Response(202, json={"accepted": 1, "rejected": 0, "results": [accepted(0)]}),
    ]
    sleeps: list[float] = []
    sender = BatchSender(client(lambda _: answers.pop(0)), SETTINGS, sleep=sleeps.append)
    assert sender.send(items(1)) == [Outcome("f0", 202, "id0", "e0")]
    assert sleeps == [3.0]


def test_only_items_answered_503_are_resent() -> None:
    bodies: list[list[object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        if len(bodies) == 1:
            results = [accepted(0), {"index": 1, "status": 503, "detail": "timeout"}]
            return httpx.Response(207, json={"results": results})
        return httpx.Response(202, json={"results": [accepted(0, "id1")]})

    sleeps: list[float] = []
    outcomes = BatchSender(client(handler), SETTINGS, sleep=sleeps.append).send(items(2))
    assert [o.article_id for o in outcomes] == ["id0", "id1"]
    assert bodies == [[{"text": "x0"}, {"text": "x1"}], [{"text": "x1"}]]
    assert len(sleeps) == 1


def test_503_after_the_last_retry_rejects_the_items() -> None:
    sleeps: list[float] = []
    sender = BatchSender(
        client(lambda _: httpx.Response(503, json={"detail": "Kafka is not reachable"})),
        SETTINGS,
        retries=2,
        sleep=sleeps.append,
    )
    outcomes = sender.send(items(2))
    assert {o.status for o in outcomes} == {503}
    assert outcomes[0].reason == "HTTP 503: Kafka is not reachable"
    assert sleeps == [0.5, 1.0]


def test_413_splits_the_chunk_until_it_fits() -> None:
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        sizes.append(len(body))
        if len(body) > 2:
            return httpx.Response(413, json={"detail": "the batch has too many articles"})
        return httpx.Response(202, json={"results": [accepted(i) for i in range(len(body))]})

    outcomes = BatchSender(client(handler), SETTINGS).send(items(5))
    assert [o.origin for o in outcomes] == ["f0", "f1", "f2", "f3", "f4"]
    assert all(o.accepted for o in outcomes)
    assert sizes == [5, 2, 3, 1, 2]


def test_unauthorised_aborts_and_unreachable_aborts_after_retries() -> None:
    with pytest.raises(PostAborted, match="refused the API key"):
        BatchSender(
            client(lambda _: httpx.Response(401, json={"detail": "a valid API key is required"})),
            SETTINGS,
        ).send(items(1))

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    sleeps: list[float] = []
    with pytest.raises(PostAborted, match="cannot reach ingest at http://ingest"):
        BatchSender(client(refuse), SETTINGS, retries=1, sleep=sleeps.append).send(items(1))
    assert sleeps == [0.5]


def test_other_errors_reject_the_whole_chunk_with_the_problem_detail() -> None:
    sender = BatchSender(
        client(lambda _: httpx.Response(415, json={"detail": "send application/json"})), SETTINGS
    )
    assert sender.send(items(1)) == [Outcome("f0", 415, reason="HTTP 415: send application/json")]


def test_duplicates_are_repeated_ids_among_accepted_items() -> None:
    outcomes = [
        Outcome("a", 202, "id1", "e1"),
        Outcome("b", 422, reason="bad"),
        Outcome("c", 202, "id2", "e2"),
        Outcome("d", 202, "id1", "e3"),
    ]
    [dup] = find_duplicates(outcomes)
    assert (dup.origin, dup.article_id, dup.first) == ("d", "id1", "a")


def test_known_means_stored_from_another_raw_event() -> None:
    stored = {"id1": "e-old", "id2": "e2"}

    def handler(request: httpx.Request) -> httpx.Response:
        article = request.url.path.rsplit("/", 1)[-1]
        if article not in stored:
            return httpx.Response(404, json={"detail": "not enriched"})
        return httpx.Response(200, json={"raw_event_id": stored[article]})

    outcomes = [
        Outcome("old", 202, "id1", "e1"),
        Outcome("new-and-enriched", 202, "id2", "e2"),
        Outcome("new", 202, "id3", "e3"),
    ]
    known = find_known(client(handler), SETTINGS, outcomes)
    assert [o.origin for o in known] == ["old"]
