"""Schemathesis against both services' OpenAPI specs: no 5xx, every response as documented."""

from __future__ import annotations

import httpx
import pytest
import schemathesis

from newsflow_local.stack import Services
from tests.support.fuzz import fuzz

pytestmark = pytest.mark.e2e

# Bounded: enough examples to find a crash, few enough to keep CI short.
EXAMPLES = 30


def test_ingest_api_conforms(services: Services) -> None:
    schema = schemathesis.openapi.from_url(f"{services.url('ingest')}/openapi.json")
    ran = fuzz(schema, max_examples=EXAMPLES)
    assert "POST /v1/articles" in ran and "POST /v1/articles:batch" in ran


def test_read_api_conforms(services: Services) -> None:
    schema = schemathesis.openapi.from_url(f"{services.url('enrich')}/openapi.json")
    ran = fuzz(schema, max_examples=EXAMPLES)
    assert "GET /v1/articles/{article_id}" in ran and "GET /v1/articles" in ran


MALFORMED_ARTICLES = [
    "[" * 50_000 + "]" * 50_000,
    '{"text": ' + "9" * 5000 + "}",
    '{"text": "lone \\ud800 surrogate"}',
    '{"text": "nul \\u0000 byte"}',
    '{"text": "A storm hit the coast.", "url": "https://example.com/\\u0000"}',
    '{"text": "A storm hit the coast.", "published_at": "0001-01-01T00:00:00+14:00"}',
    '{"text": "A storm hit the coast.", "published_at": "9999-12-31T23:59:59-14:00"}',
    '{"html": "http://127.0.0.1:9/"}',
]


def test_ingest_answers_malformed_articles_with_a_4xx_problem(services: Services) -> None:
    url = f"{services.url('ingest')}/v1/articles"
    with httpx.Client(timeout=30.0) as client:
        for body in MALFORMED_ARTICLES:
            response = client.post(url, content=body, headers={"content-type": "application/json"})
            assert 400 <= response.status_code < 500, (body[:60], response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
