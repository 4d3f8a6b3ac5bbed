"""The ingest HTTP API against a fake publisher: answers, errors, auth, metrics, batches."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from newsflow_ingest.app import build_app
from newsflow_ingest.producer import (
    Delivery,
    KafkaUnavailableError,
    Record,
    RecordRejectedError,
)
from newsflow_ingest.settings import Settings
from newsflow_schema import ArticleRawEvent, decode, decode_headers, topics

pytestmark = pytest.mark.unit

SAMPLE = Path(__file__).parents[1] / "data" / "samples" / "kherson-surrender-2022-09-13.txt"
ARTICLE = {"text": "Storm hits coast\n\nA powerful storm battered the coast on Tuesday."}
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

Outcome = Delivery | KafkaUnavailableError | RecordRejectedError


class FakePublisher:
    """Records what would be published; answers like Kafka would, as the test says."""

    def __init__(self) -> None:
        self.connected = True
        self.is_ready = True
        self.calls: list[tuple[str, list[Record]]] = []
        self.fail_with: Outcome | None = None
        self.raise_unavailable = False
        self.started = False
        self.stopped = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def ready(self) -> bool:
        return self.is_ready

    async def publish_many(self, topic: str, records: Sequence[Record]) -> list[Outcome]:
        if self.raise_unavailable:
            raise KafkaUnavailableError("not connected to Kafka")
        self.calls.append((topic, list(records)))
        if self.fail_with is not None:
            return [self.fail_with for _ in records]
        return [Delivery(topic, 0, offset) for offset in range(len(records))]

    @property
    def records(self) -> list[Record]:
        return [record for _, batch in self.calls for record in batch]


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": "127.0.0.1:1",
        "read_api_base_url": "http://reader.test:8001/",
        "max_body_bytes": 20_000,
        "max_batch_body_bytes": 40_000,
        "max_batch_items": 5,
        "max_text_chars": 10_000,
        # Threads unless a test asks for worker processes: under pytest every worker
        # process imports pytest again (multiprocessing re-runs the main script), ~0.5 s.
        "normalise_processes": 0,
        **overrides,
    }
    return Settings.model_validate(values)


@asynccontextmanager
async def running(
    settings: Settings | None = None,
) -> AsyncIterator[tuple[httpx.AsyncClient, FakePublisher]]:
    fake = FakePublisher()
    app = build_app(settings or make_settings(), publisher=fake)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
            yield client, fake
    assert fake.started and fake.stopped


# Every test of the `api` fixture runs with normalisation in threads and in two worker
# processes: the answers and what is published must not depend on where it ran.
@pytest.fixture(params=[0, 2], ids=["threads", "processes"])
async def api(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[httpx.AsyncClient, FakePublisher]]:
    async with running(make_settings(normalise_processes=request.param)) as pair:
        yield pair


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"] and body["detail"]
    return body


async def test_accepted_article_is_published_once_with_key_headers_and_value(
    api: tuple[httpx.AsyncClient, FakePublisher],
) -> None:
    client, fake = api
    response = await client.post("/v1/articles", json=ARTICLE, headers={"traceparent": TRACEPARENT})

    assert response.status_code == 202, response.text
    body = response.json()
    assert response.headers["location"] == f"http://reader.test:8001/v1/articles/{body['id']}"
    assert body["location"] == response.headers["location"]
    assert (body["topic"], body["partition"], body["offset"]) == (topics.RAW, 0, 0)
    assert body["title"] == "Storm hits coast"
    assert len(fake.calls) == 1 and fake.calls[0][0] == topics.RAW
    (record,) = fake.records
    assert record.key == body["id"].encode()
    event = decode(ArticleRawEvent, record.value)
    assert str(event.article_id) == body["id"]
    assert str(event.event_id) == body["event_id"]
    assert event.body == "A powerful storm battered the coast on Tuesday."
    attributes = decode_headers(record.headers)
    assert attributes.type == ArticleRawEvent.EVENT_TYPE
    assert attributes.id == str(event.event_id)
    assert attributes.subject == body["id"]
    assert attributes.source == "/newsflow/ingest"
    # The caller's trace continues, with this request's span as the parent of what follows.
    assert attributes.traceparent is not None
    assert attributes.traceparent.split("-")[1] == TRACEPARENT.split("-")[1]
    assert attributes.traceparent != TRACEPARENT
    assert response.headers["traceparent"] == attributes.traceparent


async def test_sample_article_gets_its_title_and_date(
    api: tuple[httpx.AsyncClient, FakePublisher],
) -> None:
    client, fake = api
    response = await client.post("/v1/articles", json={"text": SAMPLE.read_text(encoding="utf-8")})

    assert response.status_code == 202, response.text
    event = decode(ArticleRawEvent, fake.records[0].value)
    assert event.title == (
        "‘Demoralised’ Russian Forces Negotiating Surrender in Kherson Amid Ukraine’s Blitzkrieg"
    )
    assert event.published_at is not None
    assert event.published_at.date().isoformat() == "2022-09-13"
    assert "Google tag" not in event.body


async def test_identical_repost_is_unchanged_and_publishes_nothing(
    api: tuple[httpx.AsyncClient, FakePublisher],
) -> None:
    client, fake = api
    first = await client.post("/v1/articles", json=ARTICLE)
    second = await client.post("/v1/articles", json=ARTICLE)

    assert first.status_code == 202 and first.json()["status"] == "queued"
    assert second.status_code == 202, second.text
    assert second.json()["status"] == "unchanged" and second.json()["duplicate"] is True
    assert first.json()["duplicate"] is False
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["event_id"] == first.json()["event_id"]
    assert second.json()["offset"] == first.json()["offset"]
    assert second.headers["Location"] == first.headers["Location"]
    assert len(fake.records) == 1


async def test_repost_after_a_503_is_published_again(
    api: tuple[httpx.AsyncClient, FakePublisher],
) -> None:
    client, fake = api
    fake.fail_with = KafkaUnavailableError("Kafka did not acknowledge in time")
    assert (await client.post("/v1/articles", json=ARTICLE)).status_code == 503
    fake.fail_with = None
    again = await client.post("/v1/articles", json=ARTICLE)
    assert again.status_code == 202 and again.json()["status"] == "queued"
    assert len(fake.records) == 2


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b'{"text": "abc"', {"content-type": "application/json"}, 400),
        (b'{"text": "caf\xe9"}', {"content-type": "application/json"}, 400),
        (json.dumps(ARTICLE).encode(), {"content-type": "text/plain"}, 415),
        (json.dumps(ARTICLE).encode(), {"content-type": "application/x-www-form-urlencoded"}, 415),
        (json.dumps(ARTICLE).encode(), {"content-type": "application/json; charset=latin-1"}, 415),
        (b"[1, 2]", {"content-type": "application/json"}, 422),
        (b'{"text": ""}', {"content-type": "application/json"}, 422),
    ],
)
async def test_bad_input_is_a_problem_and_nothing_is_published(
    api: tuple[httpx.AsyncClient, FakePublisher],
    content: bytes,
    headers: dict[str, str],
    status: int,
) -> None:
    client, fake = api
    response = await client.post("/v1/articles", content=content, headers=headers)

    assert_problem(response, status)
    assert fake.calls == []


async def test_invalid_utf8_says_so(api: tuple[httpx.AsyncClient, FakePublisher]) -> None:
    client, _ = api
    response = await client.post(
        "/v1/articles", content=b'{"text": "\xff"}', headers={"content-type": "application/json"}
    )

    assert "UTF-8" in assert_problem(response, 400)["detail"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "x" * 10_001}, "text"),
        ({"text": "Body.", "url": "ftp://example.com/a"}, "url"),
        ({"text": "Body.", "published_at": "2999-01-01T00:00:00Z"}, "published_at"),
        ({"text": "Body.", "color": "red"}, "color"),
        ({}, "text"),
    ],
)
async def test_field_errors_name_the_field(
    api: tuple[httpx.AsyncClient, FakePublisher], payload: dict[str, Any], field: str
) -> None:
    client, fake = api
    response = await client.post("/v1/articles", json=payload)

    body = assert_problem(response, 422)
    assert field in [error["field"] for error in body["errors"]]
    assert fake.calls == []


async def test_body_over_the_limit_is_refused_by_content_length(
    api: tuple[httpx.AsyncClient, FakePublisher],
) -> None:
    client, fake = api
    response = await client.post("/v1/articles", json={"text": "x" * 30_000})

    assert "20000" in assert_problem(response, 413)["detail"]
    assert fake.calls == []


async def test_chunked_body_over_the_limit_is_refused_while_streaming(
    api: tuple[httpx.AsyncClient, FakePublisher],
) -> None:
    client, fake = api
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        for _ in range(100):
            sent.append(1)
            yield b"x" * 1000
        yield b'"}'

    response = await client.post(
        "/v1/articles", content=chunks(), headers={"content-type": "application/json"}
    )

    assert_problem(response, 413)
    assert "content-length" not in response.request.headers
    # Refused once 20 kB had arrived, not after reading all 100 kB.
    assert len(sent) < 100
    assert fake.calls == []


async def test_kafka_not_connected_is_503_with_retry_after(
    api: tuple[httpx.AsyncClient, FakePublisher],
) -> None:
    client, fake = api
    fake.connected = False
    response = await client.post("/v1/articles", json=ARTICLE)

    assert_problem(response, 503)
    assert int(response.headers["retry-after"]) > 0
    assert fake.calls == []


async def test_unacknowledged_publish_is_503_not_202(
    api: tuple[httpx.AsyncClient, FakePublisher],
) -> None:
    client, fake = api
    fake.fail_with = KafkaUnavailableError("Kafka did not acknowledge in time")
    response = await client.post("/v1/articles", json=ARTICLE)

    assert_problem(response, 503)
    assert response.headers["retry-after"] == "5"
    assert "location" not in response.headers


async def test_producer_lost_during_the_request_is_503(
    api: tuple[httpx.AsyncClient, FakePublisher],
) -> None:
    client, fake = api
    fake.raise_unavailable = True

    assert_problem(await client.post("/v1/articles", json=ARTICLE), 503)
    assert_problem(await client.post("/v1/articles:batch", json=[ARTICLE]), 503)


async def test_record_kafka_refuses_is_413(api: tuple[httpx.AsyncClient, FakePublisher]) -> None:
    client, fake = api
    fake.fail_with = RecordRejectedError("too large")

    assert_problem(await client.post("/v1/articles", json=ARTICLE), 413)


async def test_readyz_follows_the_publisher(api: tuple[httpx.AsyncClient, FakePublisher]) -> None:
    client, fake = api
    assert (await client.get("/readyz")).status_code == 200
    fake.is_ready = False
    response = await client.get("/readyz")
    assert_problem(response, 503)
    assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_api_keys_guard_writes_only() -> None:
    async with running(make_settings(api_keys="k1, k2")) as (client, fake):
        missing = await client.post("/v1/articles", json=ARTICLE)
        wrong = await client.post("/v1/articles", json=ARTICLE, headers={"X-API-Key": "nope"})
        batch = await client.post("/v1/articles:batch", json=[ARTICLE])
        assert_problem(missing, 401)
        assert_problem(wrong, 401)
        assert_problem(batch, 401)
        assert missing.headers["www-authenticate"] == "Bearer"
        assert fake.calls == []

        bearer = await client.post(
            "/v1/articles", json=ARTICLE, headers={"Authorization": "Bearer k2"}
        )
        header = await client.post("/v1/articles", json=ARTICLE, headers={"X-API-Key": "k1"})
        assert bearer.status_code == 202
        assert header.status_code == 202
        assert header.json()["status"] == "unchanged"  # the same article again
        for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
            assert (await client.get(path)).status_code == 200, path


async def test_batch_json_array_reports_each_item_in_order(
    api: tuple[httpx.AsyncClient, FakePublisher],
) -> None:
    client, fake = api
    items: list[Any] = [
        ARTICLE,
        {"text": ""},
        {"text": "Second article\n\nWith its own body."},
        "not an object",
    ]
    response = await client.post("/v1/articles:batch", json=items)

    assert response.status_code == 207, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 2)
    assert [r["index"] for r in body["results"]] == [0, 1, 2, 3]
    assert [r["status"] for r in body["results"]] == [202, 422, 202, 422]
    assert body["results"][1]["errors"][0]["field"] == "text"
    # One publish call for all valid items: the producer batches them.
    assert len(fake.calls) == 1 and len(fake.calls[0][1]) == 2
    assert [r.key.decode() for r in fake.records] == [
        body["results"][0]["id"],
        body["results"][2]["id"],
    ]
    assert body["results"][0]["location"].endswith(f"/v1/articles/{body['results'][0]['id']}")


async def test_batch_ndjson_all_valid_is_202(api: tuple[httpx.AsyncClient, FakePublisher]) -> None:
    client, fake = api
    lines = [json.dumps({"text": f"Article {n}\n\nBody number {n}."}) for n in range(3)]
    response = await client.post(
        "/v1/articles:batch",
        content=("\n".join(lines) + "\n\n").encode(),
        headers={"content-type": "application/x-ndjson"},
    )

    assert response.status_code == 202, response.text
    ids = [r["id"] for r in response.json()["results"]]
    assert len(set(ids)) == 3
    assert all(uuid.UUID(i) for i in ids)
    assert len(fake.calls) == 1 and len(fake.records) == 3


async def test_batch_ndjson_bad_line_is_reported_not_fatal(
    api: tuple[httpx.AsyncClient, FakePublisher],
) -> None:
    client, fake = api
    content = json.dumps(ARTICLE) + "\n{broken\n"
    response = await client.post(
        "/v1/articles:batch",
        content=content.encode(),
        headers={"content-type": "application/x-ndjson"},
    )

    assert response.status_code == 207
    assert [r["status"] for r in response.json()["results"]] == [202, 400]
    assert "line 2" in response.json()["results"][1]["detail"]
    assert len(fake.records) == 1


async def test_batch_with_nothing_valid_is_422_and_publishes_nothing(
    api: tuple[httpx.AsyncClient, FakePublisher],
) -> None:
    client, fake = api
    body = assert_problem(
        await client.post("/v1/articles:batch", json=[{"text": ""}, {"x": 1}]), 422
    )
    assert [r["status"] for r in body["results"]] == [422, 422]
    assert fake.calls == []


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (json.dumps([ARTICLE] * 6).encode(), {"content-type": "application/json"}, 413),
        (json.dumps([]).encode(), {"content-type": "application/json"}, 422),
        (json.dumps(ARTICLE).encode(), {"content-type": "application/json"}, 422),
        (b"[{", {"content-type": "application/json"}, 400),
        (b'[{"text": "\xff"}]', {"content-type": "application/json"}, 400),
        (json.dumps([ARTICLE]).encode(), {"content-type": "text/csv"}, 415),
        (b"[" + b'"x",' * 20_000 + b'"x"]', {"content-type": "application/json"}, 413),
    ],
)
async def test_batch_bad_input_publishes_nothing(
    api: tuple[httpx.AsyncClient, FakePublisher],
    content: bytes,
    headers: dict[str, str],
    status: int,
) -> None:
    client, fake = api
    assert_problem(
        await client.post("/v1/articles:batch", content=content, headers=headers), status
    )
    assert fake.calls == []


async def test_batch_when_kafka_is_down_is_503(
    api: tuple[httpx.AsyncClient, FakePublisher],
) -> None:
    client, fake = api
    fake.connected = False
    response = await client.post("/v1/articles:batch", json=[ARTICLE])
    assert_problem(response, 503)
    assert "retry-after" in response.headers

    fake.connected = True
    fake.fail_with = KafkaUnavailableError("timed out")
    response = await client.post("/v1/articles:batch", json=[ARTICLE, {"text": ""}])
    body = assert_problem(response, 503)
    assert [r["status"] for r in body["results"]] == [503, 422]


async def test_metrics_count_requests_and_articles(
    api: tuple[httpx.AsyncClient, FakePublisher],
) -> None:
    client, _ = api
    await client.post("/v1/articles", json=ARTICLE)
    await client.post("/v1/articles", json={"text": ""})
    text = (await client.get("/metrics")).text

    assert 'ingest_http_requests_total{method="POST",route="/v1/articles",status="202"} 1.0' in text
    assert 'ingest_http_requests_total{method="POST",route="/v1/articles",status="422"} 1.0' in text
    assert "ingest_articles_accepted_total 1.0" in text
    assert 'ingest_articles_rejected_total{reason="invalid"} 1.0' in text
    assert 'ingest_publish_duration_seconds_count{endpoint="single"} 1.0' in text


async def test_unknown_route_is_a_problem(api: tuple[httpx.AsyncClient, FakePublisher]) -> None:
    client, _ = api
    assert_problem(await client.get("/nope"), 404)


async def test_openapi_documents_both_write_endpoints_with_examples(
    api: tuple[httpx.AsyncClient, FakePublisher],
) -> None:
    client, _ = api
    spec = (await client.get("/openapi.json")).json()
    single = spec["paths"]["/v1/articles"]["post"]
    batch = spec["paths"]["/v1/articles:batch"]["post"]

    assert single["requestBody"]["content"]["application/json"]["examples"]
    assert "application/x-ndjson" in batch["requestBody"]["content"]
    assert "503" in single["responses"] and "413" in single["responses"]
    assert (await client.get("/docs")).status_code == 200


async def test_corrected_repost_publishes_a_new_revision_with_the_same_id(
    api: tuple[httpx.AsyncClient, FakePublisher],
) -> None:
    client, fake = api
    article = {**ARTICLE, "url": "https://example.com/storm", "tags": ["weather"]}
    first = await client.post("/v1/articles", json=article)
    corrected = await client.post("/v1/articles", json={**article, "tags": ["weather", "coast"]})
    same = await client.post("/v1/articles", json={**article, "tags": ["weather", "coast"]})

    assert first.status_code == corrected.status_code == 202
    assert corrected.json()["id"] == first.json()["id"]
    assert corrected.json()["content_hash"] != first.json()["content_hash"]
    assert same.status_code == 202 and same.json()["status"] == "unchanged"
    events = [decode(ArticleRawEvent, record.value) for record in fake.records]
    assert [event.tags for event in events] == [("weather",), ("weather", "coast")]


async def test_batch_items_already_published_are_duplicates(
    api: tuple[httpx.AsyncClient, FakePublisher],
) -> None:
    client, fake = api
    other = {"text": "Other story\n\nA different article about the harbour reopening."}
    assert (await client.post("/v1/articles", json=ARTICLE)).status_code == 202
    response = await client.post("/v1/articles:batch", json=[ARTICLE, other])
    assert response.status_code == 202, response.text
    assert [r["status"] for r in response.json()["results"]] == [202, 202]
    assert [r["duplicate"] for r in response.json()["results"]] == [True, False]
    assert response.json()["accepted"] == 2
    assert len(fake.records) == 2
