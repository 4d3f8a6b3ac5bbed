"""The trends API and page over a fake trend store: windows, shapes, errors, access."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from newsflow_enrich.app import build_app
from newsflow_enrich.trends.queries import (
    Cell,
    EntitySeries,
    HolderStances,
    Point,
    StanceMatrix,
)
from tests.unit.test_enrich_api import assert_problem, serve, settings

pytestmark = pytest.mark.unit

DAY = datetime(2026, 5, 4, tzinfo=UTC)


@dataclass
class FakeTrends:
    calls: list[dict[str, Any]] = field(default_factory=list)

    async def entities(self, **kw: Any) -> list[EntitySeries]:
        self.calls.append(kw)
        return [EntitySeries("Kherson", "GPE", 7, 2, (Point(DAY, 3), Point(DAY + timedelta(1), 4)))]

    async def stances(self, **kw: Any) -> list[HolderStances]:
        self.calls.append(kw)
        holder = HolderStances("Kirill Stremousov")
        holder.totals["favor"] = 2
        holder.points["favor"] = [Point(DAY, 2)]
        return [holder]

    async def matrix(self, **kw: Any) -> StanceMatrix:
        self.calls.append(kw)
        return StanceMatrix(
            ("Kirill Stremousov",), ("Kherson",),
            {("Kirill Stremousov", "Kherson"): Cell(2, 0, 0, 0.7)},
        )  # fmt: skip

    async def speakers(self, **kw: Any) -> list[tuple[str, int]]:
        self.calls.append(kw)
        return [("Nataliya Humeniuk", 6)]


@pytest.fixture
def trends() -> FakeTrends:
    return FakeTrends()


@pytest.fixture
async def api(trends: FakeTrends) -> AsyncIterator[httpx.AsyncClient]:
    async for c in serve(build_app(settings(), trend_store=trends)):
        yield c


async def test_entity_trends_align_the_window_to_whole_buckets(
    api: httpx.AsyncClient, trends: FakeTrends
) -> None:
    got = await api.get(
        "/v1/trends/entities",
        params={"since": "2026-05-04T10:30:00+02:00", "until": "2026-05-06T01:00:00Z"},
    )
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["since"], body["until"]) == ("2026-05-04T00:00:00Z", "2026-05-07T00:00:00Z")
    assert body["items"][0]["points"] == [
        {"bucket": "2026-05-04T00:00:00Z", "value": 3},
        {"bucket": "2026-05-05T00:00:00Z", "value": 4},
    ]
    assert trends.calls[0]["grain"] == "day"


async def test_label_is_upper_cased_and_hour_buckets_default_to_two_days(
    api: httpx.AsyncClient, trends: FakeTrends
) -> None:
    got = await api.get("/v1/trends/entities", params={"bucket": "hour", "label": "person"})
    assert got.status_code == 200, got.text
    call = trends.calls[0]
    assert call["label"] == "PERSON"
    assert call["until"] - call["since"] in (timedelta(hours=48), timedelta(hours=49))


async def test_stance_trends_by_holder(api: httpx.AsyncClient, trends: FakeTrends) -> None:
    got = await api.get("/v1/trends/stances", params={"entity": "Kherson"})
    assert got.status_code == 200, got.text
    [holder] = got.json()["items"]
    assert (holder["holder"], holder["favor"], holder["against"]) == ("Kirill Stremousov", 2, 0)
    assert set(holder["points"]) == {"favor", "against", "neutral"}
    assert trends.calls[0]["limit"] == 20


async def test_stance_trends_take_a_limit_of_holders(
    api: httpx.AsyncClient, trends: FakeTrends
) -> None:
    got = await api.get("/v1/trends/stances", params={"entity": "Kherson", "limit": 5})
    assert got.status_code == 200, got.text
    assert trends.calls[0]["limit"] == 5
    spec = (await api.get("/openapi.json")).json()
    [param] = [
        p for p in spec["paths"]["/v1/trends/stances"]["get"]["parameters"] if p["name"] == "limit"
    ]
    assert (param["schema"]["default"], param["schema"]["maximum"]) == (20, 100)


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/trends/entities", {"since": "2026-05-04T00:00Z", "until": "2026-05-01T00:00Z"},
         "query.since"),
        ("/v1/trends/entities", {"since": "2020-01-01T00:00:00Z", "bucket": "hour"}, "query.since"),
        ("/v1/trends/entities", {"until": "9999-12-31T23:00:00-14:00"}, "query.until"),
        ("/v1/trends/entities", {"bucket": "week"}, "query.bucket"),
        ("/v1/trends/stances", {}, "query.entity"),
        ("/v1/trends/stances", {"entity": "\x00"}, "query.entity"),
        ("/v1/trends/stances", {"entity": "Kherson", "limit": "0"}, "query.limit"),
        ("/v1/trends/stances", {"entity": "Kherson", "limit": "101"}, "query.limit"),
    ],
)  # fmt: skip
async def test_unusable_windows_and_parameters_are_422_naming_the_field(
    api: httpx.AsyncClient, path: str, params: dict[str, str], field: str
) -> None:
    body = assert_problem(await api.get(path, params=params), 422)
    assert field in [e["field"] for e in body["errors"]], body


async def test_trends_page_renders_sparklines_matrix_and_speakers(api: httpx.AsyncClient) -> None:
    got = await api.get("/trends", params={"days": 7})
    assert got.status_code == 200
    assert "script-src" not in got.headers["content-security-policy"]
    page = got.text
    assert '<a href="/articles?entity=Kherson">Kherson</a>' in page
    assert "<polyline" in page and 'class="cell"' in page
    assert "Nataliya Humeniuk" in page


async def test_trends_need_a_key_when_keys_are_set(trends: FakeTrends) -> None:
    async for c in serve(build_app(settings(api_keys="k1"), trend_store=trends)):
        assert_problem(await c.get("/v1/trends/entities"), 401)
        assert (await c.get("/trends")).status_code == 401
        ok = await c.get("/v1/trends/entities", headers={"X-API-Key": "k1"})
        assert ok.status_code == 200
