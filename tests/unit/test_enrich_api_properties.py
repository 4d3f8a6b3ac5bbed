"""Property tests of the read API's inputs: any query text or cursor is a 2xx or a 4xx."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsflow_enrich.app import build_app
from newsflow_enrich.db.read import CursorError, decode_cursor, encode_cursor
from newsflow_enrich.settings import Settings
from tests.support.ports import free_port
from tests.support.read_store import FakeReadStore

pytestmark = pytest.mark.unit

# Every code point, lone surrogates and C0/C1 controls included.
ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=40)
NASTY = st.sampled_from(["\x00", "\ud800", "\udfff", "\x1f", "\x85", "\u2028", "%", "+", "&"])
VALUES = st.one_of(ANY_TEXT, NASTY, st.lists(NASTY, max_size=5).map("".join))
PARAMS = st.dictionaries(
    st.sampled_from(["entity", "label", "stance", "status", "since", "limit", "cursor", "q"]),
    VALUES,
    max_size=4,
)
PATHS = st.sampled_from(["/v1/articles", "/v1/entities", "/articles"])


def raw_query(params: dict[str, str]) -> str:
    # surrogatepass: a lone surrogate goes out as the invalid UTF-8 a hostile client sends.
    return "&".join(
        f"{quote(k)}={quote(v.encode('utf-8', 'surrogatepass'), safe='')}"
        for k, v in params.items()
    )


async def _status(path: str, query: str) -> int:
    settings = Settings(
        database_url=f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/none",
        consumer_enabled=False,
        relay_enabled=False,
    )
    app = build_app(settings, store=FakeReadStore())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://enrich") as client:
        return (await client.get(f"{path}?{query}")).status_code


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=PATHS, params=PARAMS)
def test_any_query_is_answered_without_a_server_error(path: str, params: dict[str, str]) -> None:
    status = asyncio.run(_status(path, raw_query(params)))
    assert status < 500, (path, params)


@given(ANY_TEXT)
def test_decoding_any_text_returns_a_position_or_a_cursor_error(text: str) -> None:
    try:
        when, key = decode_cursor(text)
    except CursorError:
        return
    assert when.tzinfo is not None and isinstance(key, uuid.UUID)


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=datetime(9999, 12, 30),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    st.uuids(),
)
def test_every_cursor_written_reads_back(when: datetime, key: uuid.UUID) -> None:
    assert decode_cursor(encode_cursor(when, key)) == (when, key)
