"""Schemathesis over ingest's OpenAPI, in process with a fake publisher: no 5xx, as documented."""

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

from newsflow_ingest.app import build_app
from tests.unit.test_ingest_api import FakePublisher, make_settings

pytestmark = pytest.mark.unit

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


def test_every_ingest_operation_conforms_and_never_answers_5xx() -> None:
    app = build_app(make_settings(), publisher=FakePublisher())
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    ran = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @FUZZ
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=CHECKS)

        check()
        ran.append(f"{operation.method.upper()} {operation.path}")
    assert "POST /v1/articles" in ran and "POST /v1/articles:batch" in ran
