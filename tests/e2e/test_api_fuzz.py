"""Schemathesis against both services' OpenAPI specs: no 5xx, every response as documented."""

from __future__ import annotations

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
