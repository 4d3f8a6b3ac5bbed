"""Schemathesis against both services' OpenAPI specs: no 5xx, every response as documented."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
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


@pytest.fixture(scope="session")
def ingest_api(services: Services) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{services.url('ingest')}/openapi.json")


@pytest.fixture(scope="session")
def read_api(services: Services) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{services.url('enrich')}/openapi.json")


ingest = schemathesis.pytest.from_fixture("ingest_api")
read = schemathesis.pytest.from_fixture("read_api")


@ingest.parametrize()
@FUZZ
def test_ingest_api_conforms(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)


@read.parametrize()
@FUZZ
def test_read_api_conforms(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)
