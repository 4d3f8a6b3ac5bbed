"""JSON log lines carry the trace and article; the middleware continues a caller's trace."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from fastapi import FastAPI, Request

from newsflow_schema import logs

pytestmark = pytest.mark.unit

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE}-00f067aa0ba902b7-01"


def render(record: logging.LogRecord) -> dict[str, object]:
    line = logs.JsonFormatter("test").format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert isinstance(parsed, dict)
    return parsed


def record(msg: str = "hello", **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("t", logging.INFO, __file__, 1, msg, None, None)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_context_puts_trace_and_article_on_every_line() -> None:
    with logs.context(traceparent=PARENT, article_id="a-1"):
        line = render(record())
    assert line["trace_id"] == TRACE
    assert line["span_id"] == "00f067aa0ba902b7"
    assert line["article_id"] == "a-1"
    assert line["service"] == "test" and line["msg"] == "hello" and line["level"] == "INFO"
    outside = render(record())
    assert "trace_id" not in outside and "article_id" not in outside


def test_extra_fields_are_kept_and_made_json_safe() -> None:
    line = render(record(partition=2, path=object()))
    assert line["partition"] == 2
    assert isinstance(line["path"], str)


def test_invalid_traceparent_sets_no_trace() -> None:
    with logs.context(traceparent="00-bad-trace-01"):
        assert "trace_id" not in render(record())


async def test_middleware_continues_or_starts_a_trace() -> None:
    app = FastAPI()
    app.add_middleware(logs.TraceMiddleware)
    seen: list[str] = []

    @app.get("/x")
    async def x(request: Request) -> dict[str, str]:
        seen.append(request.state.traceparent)
        assert logs.trace_id_var.get() == request.state.traceparent.split("-")[1]
        return {}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        continued = await client.get("/x", headers={"traceparent": PARENT})
        fresh = await client.get("/x")
    assert seen[0].split("-")[1] == TRACE and seen[0] != PARENT
    assert continued.headers["traceparent"] == seen[0]
    assert seen[1].split("-")[1] != TRACE
    assert fresh.headers["traceparent"] == seen[1]
