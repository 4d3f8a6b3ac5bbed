"""The HTTP error contract both services share: problem+json answers and "unavailable".

Every error a client sees is RFC 9457 problem+json built by `problem_response`; the
handlers for it are installed once per app by `install_problem_handlers`. An outage of a
dependency (Kafka, PostgreSQL) is raised as a `ServiceUnavailable` subclass by the adapter
that met it, and always answers 503 with `Retry-After`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from newsflow_schema.problems import PROBLEM_CONTENT_TYPE, field_error, problem_body, slug_of

log = logging.getLogger(__name__)

__all__ = [
    "DatabaseUnavailable",
    "KafkaUnavailable",
    "ProblemError",
    "ServiceUnavailable",
    "install_problem_handlers",
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


class ServiceUnavailable(Exception):
    """A dependency of the service is unreachable: retry later, nothing was done."""

    dependency = "a dependency"
    slug = "service-unavailable"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or f"{self.dependency} is unavailable")
        self.detail = detail or f"{self.dependency} is unavailable"


class KafkaUnavailable(ServiceUnavailable):
    dependency = "Kafka"
    slug = "kafka-unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    dependency = "the database"
    slug = "database-unavailable"


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


def unavailable_problem(exc: ServiceUnavailable, *, retry_after_s: int) -> ProblemError:
    return ProblemError(503, exc.detail, slug=exc.slug, headers={"Retry-After": str(retry_after_s)})


def install_problem_handlers(app: FastAPI, *, retry_after_s: int) -> None:
    """Answer every error of `app` as problem+json, outages as 503 with `Retry-After`."""

    async def problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_response(exc, instance=request.url.path)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            field_error(".".join(str(p) for p in e["loc"]), str(e["msg"])) for e in exc.errors()
        ]
        fields = ", ".join(e["field"] for e in errors)
        detail = f"the request is invalid: {fields}" if fields else "the request is invalid"
        return problem_response(ProblemError(422, detail, errors=errors), instance=request.url.path)

    async def http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return problem_response(
            ProblemError(exc.status_code, str(exc.detail), headers=exc.headers),
            instance=request.url.path,
        )

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ServiceUnavailable)
        log.warning("%s: answering 503: %s", request.url.path, exc.detail)
        return problem_response(
            unavailable_problem(exc, retry_after_s=retry_after_s), instance=request.url.path
        )

    app.add_exception_handler(ProblemError, problem)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http)
    app.add_exception_handler(ServiceUnavailable, unavailable)
