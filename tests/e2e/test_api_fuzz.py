"""Schemathesis against both services' OpenAPI specs: no 5xx, every response as documented."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from newsflow_local.stack import Services

pytestmark = pytest.mark.e2e

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Bounded: enough examples to find a crash, few enough to keep CI short.
FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


def fuzz(schema: schemathesis.BaseSchema) -> list[str]:
    """Run every operation of `schema` with generated cases; return the operations run."""
    ran = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @FUZZ
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=CHECKS)

        check()
        ran.append(f"{operation.method.upper()} {operation.path}")
    return ran


def test_ingest_api_conforms(services: Services) -> None:
    ran = fuzz(schemathesis.openapi.from_url(f"{services.url('ingest')}/openapi.json"))
    assert "POST /v1/articles" in ran and "POST /v1/articles:batch" in ran


def test_read_api_conforms(services: Services) -> None:
    ran = fuzz(schemathesis.openapi.from_url(f"{services.url('enrich')}/openapi.json"))
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
