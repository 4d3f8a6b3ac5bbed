"""Schemathesis over an OpenAPI schema: every operation, no 5xx, every response as documented."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def fuzz(schema: schemathesis.BaseSchema, *, max_examples: int) -> list[str]:
    """Run every operation of `schema` with generated cases; return the operations run.

    Bounded by `max_examples` per operation and derandomized, so a run is repeatable.
    """
    budget = settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    ran = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @budget
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=CHECKS)

        check()
        ran.append(f"{operation.method.upper()} {operation.path}")
    return ran
