"""RFC 9457 problem details: the one shape every ingest error response takes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi.responses import JSONResponse

PROBLEM_CONTENT_TYPE = "application/problem+json"
_TYPE_BASE = "https://newsflow.dev/problems/"


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
        self.slug = slug or HTTPStatus(status).phrase.lower().replace(" ", "-")
        self.errors = list(errors)
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def field_error(field: str, message: str) -> dict[str, str]:
    """One entry of a 422's `errors`: the field (dotted path) and what to change."""
    return {"field": field, "message": message}


def problem_body(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    instance: str | None = None,
    errors: Sequence[Mapping[str, Any]] = (),
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    slug = slug or HTTPStatus(status).phrase.lower().replace(" ", "-")
    body: dict[str, Any] = {
        "type": _TYPE_BASE + slug,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance is not None:
        body["instance"] = instance
    if errors:
        body["errors"] = list(errors)
    body.update(extra or {})
    return body


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


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def problem_openapi(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries documenting problem+json answers for the given statuses."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_CONTENT_TYPE: {"schema": PROBLEM_SCHEMA}},
        }
        for status in statuses
    }
