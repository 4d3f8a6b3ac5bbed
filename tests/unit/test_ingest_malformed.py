"""Every malformed input is a 4xx problem+json naming the field or line, never a 500."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsflow_ingest.app import build_app
from newsflow_ingest.routes import batch as batch_routes
from tests.unit.test_ingest_api import FakePublisher, assert_problem, make_settings

pytestmark = pytest.mark.unit

JSON = {"content-type": "application/json"}
NDJSON = {"content-type": "application/x-ndjson"}
LONG = "A powerful storm battered the northern coast on Tuesday, officials said. " * 3


@pytest.fixture(scope="module")
def client() -> Any:
    app = build_app(
        make_settings(max_body_bytes=200_000, max_batch_body_bytes=400_000),
        publisher=FakePublisher(),
    )
    with TestClient(app) as test_client:
        yield test_client


def field_of(body: dict[str, Any]) -> list[str]:
    return [error["field"] for error in body.get("errors", [])]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("[" * 50_000 + "]" * 50_000, "nested too deeply"),
        ('{"text": ' + "9" * 5000 + "}", "digits"),
        ('{"text": "x", ', "not valid JSON"),
    ],
)
def test_malformed_json_is_400(client: TestClient, raw: str, fragment: str) -> None:
    body = assert_problem(client.post("/v1/articles", content=raw, headers=JSON), 400)
    assert fragment in body["detail"]


@pytest.mark.parametrize("field", ["text", "title", "url", "source", "language"])
@pytest.mark.parametrize("bad", ["\\u0000", "\\ud800"])
def test_nul_and_lone_surrogates_are_422_naming_the_field(
    client: TestClient, field: str, bad: str
) -> None:
    payload = {"text": LONG, "url": "https://example.com/a", field: "x"}
    raw = json.dumps(payload).replace(f'"{field}": "x"', f'"{field}": "https://ex{bad}.com"')
    if field == "text":
        raw = raw.replace('"text": "https://ex', f'"text": "{LONG}{bad}').replace(
            f'{LONG}{bad}{bad}.com"', f'{LONG}{bad}"'
        )
    body = assert_problem(client.post("/v1/articles", content=raw, headers=JSON), 422)
    assert field in field_of(body), body


@pytest.mark.parametrize("list_field", ["authors", "tags"])
def test_nul_in_a_list_is_422(client: TestClient, list_field: str) -> None:
    raw = json.dumps({"text": LONG, list_field: ["ok", "bad\x00"]})
    body = assert_problem(client.post("/v1/articles", content=raw, headers=JSON), 422)
    assert any(f.startswith(list_field) for f in field_of(body)), body


def test_surrogate_in_an_unknown_field_name_is_422(client: TestClient) -> None:
    raw = '{"text": "' + LONG + '", "x\\ud800": 1}'
    body = assert_problem(client.post("/v1/articles", content=raw, headers=JSON), 422)
    assert field_of(body) == ["x\\ud800"]


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59Z"]
)
def test_published_at_out_of_range_is_422(client: TestClient, when: str) -> None:
    response = client.post("/v1/articles", json={"text": LONG, "published_at": when})
    assert field_of(assert_problem(response, 422)) == ["published_at"]


def test_html_that_is_not_markup_is_422(client: TestClient) -> None:
    response = client.post("/v1/articles", json={"html": "http://127.0.0.1:9/"})
    assert field_of(assert_problem(response, 422)) == ["html"]


def test_ndjson_one_bad_line_fails_only_its_item(client: TestClient) -> None:
    lines = [
        json.dumps({"text": LONG + " One."}),
        '{"text": "' + LONG + '\\ud800"}',
        "[" * 50_000 + "]" * 50_000,
        json.dumps({"text": LONG + "\u2028Two\u2029" + "\x0c"}, ensure_ascii=False),
        json.dumps({"text": LONG, "published_at": "0001-01-01T00:00:00+14:00"}),
    ]
    response = client.post("/v1/articles:batch", content="\n".join(lines), headers=NDJSON)
    assert response.status_code == 207, response.text
    statuses = [r["status"] for r in response.json()["results"]]
    assert statuses == [202, 422, 400, 202, 422]
    results = response.json()["results"]
    assert results[1]["errors"][0]["field"] == "text"
    assert "line 3" in results[2]["detail"]
    assert results[4]["errors"][0]["field"] == "published_at"


def test_empty_batch_is_422_and_documented(client: TestClient) -> None:
    for content, headers in (("[]", JSON), ("\n\n", NDJSON)):
        body = assert_problem(
            client.post("/v1/articles:batch", content=content, headers=headers), 422
        )
        assert "empty" in body["detail"]
    spec = client.get("/openapi.json").json()
    batch = spec["paths"]["/v1/articles:batch"]["post"]
    assert "empty batch" in batch["description"].lower()
    assert batch["requestBody"]["content"]["application/json"]["schema"]["minItems"] == 1


async def test_healthz_answers_while_a_batch_is_being_prepared(
    sample_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The batch is decoded, parsed and normalised in a worker thread. Holding that thread
    # proves the event loop is not: /healthz answers while the batch waits there.
    started, release = threading.Event(), threading.Event()
    prepare_all = batch_routes._prepare_all

    def held(*args: Any) -> Any:
        started.set()
        assert release.wait(30), "the test never released the batch"
        return prepare_all(*args)

    monkeypatch.setattr(batch_routes, "_prepare_all", held)
    app = build_app(make_settings(max_batch_body_bytes=400_000), publisher=FakePublisher())
    lines = [json.dumps({"text": sample_text, "url": f"https://example.com/{i}"}) for i in range(5)]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
            posted = asyncio.create_task(
                client.post("/v1/articles:batch", content="\n".join(lines), headers=NDJSON)
            )
            assert await asyncio.to_thread(started.wait, 30)
            health = await asyncio.wait_for(client.get("/healthz"), 10)
            assert health.status_code == 200
            assert not posted.done()
            release.set()
            response = await posted
    assert response.status_code == 202, response.text


_SPECIAL = st.sampled_from(
    ["\ud800", "\udfff", "\x00", "\x0b", "\x0c", "\x85", "\u2028", "\u2029", "\u200d",
     "\u202e", "\ufeff", "<", ">", "&", "<p>", "By ", "http://127.0.0.1:9/", "2024-03-04"]
)  # fmt: skip
_TEXT = st.lists(_SPECIAL | st.characters(codec=None, exclude_categories=()), max_size=30).map(
    "".join
)
_VALUES = st.none() | st.booleans() | st.integers() | _TEXT | st.lists(_TEXT, max_size=3)
_ARTICLE = st.fixed_dictionaries(
    {},
    optional={
        "text": _TEXT,
        "html": _TEXT,
        "title": _TEXT,
        "url": _TEXT,
        "source": _TEXT,
        "published_at": _TEXT,
        "authors": _VALUES,
        "tags": _VALUES,
        "language": _TEXT,
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_ARTICLE)
def test_any_article_with_surrogates_and_controls_is_never_a_5xx(payload: dict[str, Any]) -> None:
    app = build_app(make_settings(), publisher=FakePublisher())
    # ensure_ascii writes lone surrogates as \\udXXXX escapes, as a client's JSON may.
    raw = json.dumps(payload, ensure_ascii=True)
    with TestClient(app) as test_client:
        response = test_client.post("/v1/articles", content=raw, headers=JSON)
        ndjson = test_client.post("/v1/articles:batch", content=raw + "\n" + raw, headers=NDJSON)
    assert response.status_code < 500, response.text
    assert ndjson.status_code < 500, ndjson.text
    assert response.status_code in (200, 202, 400, 422), response.text
