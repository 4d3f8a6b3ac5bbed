"""Ingest's errors as RFC 9457 problem+json responses (the body shape lives in the schema lib)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi.responses import JSONResponse

from newsflow_schema.problems import (
    PROBLEM_CONTENT_TYPE,
    field_error,
    problem_body,
    problem_openapi,
    slug_of,
)

__all__ = [
    "PROBLEM_CONTENT_TYPE",
    "ProblemError",
    "field_error",
    "problem_body",
    "problem_openapi",
    "problem_response",
]


class ProblemError(Exception):
    """An error the client caused or must know about, answered as problem+json."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        errors: Sequence[Mapping[str, Any]] = (),
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug or slug_of(status)
        self.errors = list(errors)
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def problem_response(exc: ProblemError, *, instance: str | None = None) -> JSONResponse:
    return JSONResponse(
        problem_body(
            exc.status,
            exc.detail,
            slug=exc.slug,
            instance=instance,
            errors=exc.errors,
            extra=exc.extra,
        ),
        status_code=exc.status,
        headers=exc.headers,
        media_type=PROBLEM_CONTENT_TYPE,
    )
