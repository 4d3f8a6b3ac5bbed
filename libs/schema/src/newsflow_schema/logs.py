"""Structured JSON logs shared by the services: one object per line, with trace and article ids."""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from newsflow_schema.cloudevents import is_valid_traceparent

trace_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace_id", default=None)
span_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("span_id", default=None)
article_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "article_id", default=None
)

# LogRecord attributes that are not user-supplied `extra` fields.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "msg", "service", "trace_id", "span_id", "article_id", …}`."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "service": self._service,
        }
        for key, var in (
            ("trace_id", trace_id_var),
            ("span_id", span_id_var),
            ("article_id", article_id_var),
        ):
            value = getattr(record, key, None) or var.get()
            if value:
                line[key] = str(value)
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line:
                plain = isinstance(value, str | int | float | bool | None)
                line[key] = value if plain else str(value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure(service: str, level: str = "info", *, json_lines: bool = True) -> None:
    """Route every logger (uvicorn's and aiokafka's too) to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True


def parse_traceparent(value: str | None) -> tuple[str, str] | None:
    """(trace_id, parent span id) of a valid W3C traceparent, else None."""
    if value is None or not is_valid_traceparent(value):
        return None
    _, trace_id, span_id, _ = value.split("-")
    return trace_id, span_id


@contextlib.contextmanager
def context(*, traceparent: str | None = None, article_id: str | None = None) -> Iterator[None]:
    """Log lines inside carry this trace and article (the traceparent's span as parent)."""
    tokens: list[tuple[contextvars.ContextVar[str | None], contextvars.Token[str | None]]] = []
    parsed = parse_traceparent(traceparent)
    if parsed is not None:
        tokens.append((trace_id_var, trace_id_var.set(parsed[0])))
        tokens.append((span_id_var, span_id_var.set(parsed[1])))
    if article_id is not None:
        tokens.append((article_id_var, article_id_var.set(article_id)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def new_span_id() -> str:
    return os.urandom(8).hex()


def new_trace_id() -> str:
    return os.urandom(16).hex()


class TraceMiddleware:
    """ASGI middleware: a W3C trace context per request, in logs, and one line per request.

    Continues the caller's trace when a valid `traceparent` header arrives, else starts
    one; the request gets a span of its own. The traceparent to hand on (e.g. into Kafka
    headers) is `scope["state"]["traceparent"]`, and the response carries it back.
    """

    def __init__(self, app: Any, *, logger: str = "newsflow.http") -> None:
        self._app = app
        self._log = logging.getLogger(logger)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", ()):
            if name == b"traceparent":
                incoming = value.decode("latin-1")
        parsed = parse_traceparent(incoming)
        trace_id = parsed[0] if parsed else new_trace_id()
        traceparent = f"00-{trace_id}-{new_span_id()}-01"
        scope.setdefault("state", {})["traceparent"] = traceparent
        status = 500
        started = time.perf_counter()

        async def send_with_trace(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"traceparent", traceparent.encode())]
            await send(message)

        with context(traceparent=traceparent):
            try:
                await self._app(scope, receive, send_with_trace)
            finally:
                if scope.get("path") not in ("/healthz", "/readyz", "/metrics"):
                    self._log.info(
                        "%s %s %d",
                        scope.get("method"),
                        scope.get("path"),
                        status,
                        extra={
                            "status": status,
                            "ms": round((time.perf_counter() - started) * 1000, 1),
                        },
                    )
