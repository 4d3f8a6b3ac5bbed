"""The trends API: who and what is in the news over time, read from the rollups."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from newsflow_enrich.api.deps import KeyRequired
from newsflow_enrich.api.routes import TEXT, utc_instant
from newsflow_enrich.trends.queries import LABELS, EntitySeries, HolderStances
from newsflow_enrich.trends.store import TrendStore
from newsflow_schema.http import ProblemError
from newsflow_schema.problems import field_error, problem_openapi

Bucket = Literal["hour", "day"]
STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
# How far back a query reaches when `since` is not given, and the most buckets one answers.
DEFAULT_SPAN = {"hour": timedelta(hours=48), "day": timedelta(days=30)}
MAX_BUCKETS = 1_200

router = APIRouter(prefix="/v1/trends", tags=["trends"], dependencies=[KeyRequired])


def trend_store(request: Request) -> TrendStore:
    store: TrendStore = request.app.state.trend_store
    return store


TrendsDep = Annotated[TrendStore, Depends(trend_store)]


class Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class PointOut(Out):
    bucket: datetime
    value: int


class EntityTrendOut(Out):
    name: str
    label: str
    articles: int = Field(description="Articles mentioning it in the window (the ranking).")
    mentions: int
    points: list[PointOut] = Field(description="Mentions per bucket; empty buckets omitted.")

    @classmethod
    def of(cls, s: EntitySeries) -> EntityTrendOut:
        points = [PointOut(bucket=p.bucket, value=p.value) for p in s.points]
        return cls(
            name=s.name, label=s.label, articles=s.articles, mentions=s.mentions, points=points
        )


class EntityTrends(Out):
    bucket: Bucket
    since: datetime
    until: datetime
    items: list[EntityTrendOut]


class HolderOut(Out):
    holder: str
    favor: int
    against: int
    neutral: int
    points: dict[str, list[PointOut]] = Field(description="Stances per bucket, by label.")

    @classmethod
    def of(cls, h: HolderStances) -> HolderOut:
        return cls(
            holder=h.holder,
            favor=h.totals["favor"],
            against=h.totals["against"],
            neutral=h.totals["neutral"],
            points={
                label: [PointOut(bucket=p.bucket, value=p.value) for p in h.points[label]]
                for label in LABELS
            },
        )


class StanceTrends(Out):
    target: str
    bucket: Bucket
    since: datetime
    until: datetime
    items: list[HolderOut]


@dataclass(frozen=True, slots=True)
class Window:
    since: datetime
    until: datetime
    bucket: Bucket


def window(bucket: Bucket, since: datetime | None, until: datetime | None) -> Window:
    """[since, until) aligned to whole buckets; 422 naming the parameter when it is unusable."""
    step = STEP[bucket]
    end = utc_instant("until", until) or datetime.now(UTC)
    end = _floor(end, bucket) + (step if end != _floor(end, bucket) else timedelta(0))
    start = _floor(utc_instant("since", since) or end - DEFAULT_SPAN[bucket], bucket)
    if start >= end:
        raise _invalid("since", "must be before `until`")
    if (end - start) / step > MAX_BUCKETS:
        raise _invalid("since", f"the window holds more than {MAX_BUCKETS} {bucket} buckets")
    return Window(start, end, bucket)


def _floor(at: datetime, bucket: Bucket) -> datetime:
    at = at.replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0) if bucket == "day" else at


def _invalid(name: str, message: str) -> ProblemError:
    return ProblemError(
        422,
        f"the request is invalid: query.{name}",
        errors=[field_error(f"query.{name}", message)],
    )


SinceQ = Annotated[
    AwareDatetime | None,
    Query(description="Window start (RFC 3339 with an offset); default: 48 h or 30 days back."),
]
UntilQ = Annotated[AwareDatetime | None, Query(description="Window end, exclusive; default: now.")]
BucketQ = Annotated[Bucket, Query(description="Bucket size of the series.")]


@router.get(
    "/entities",
    response_model=EntityTrends,
    responses=problem_openapi(401, 422, 503),
    summary="The entities in most articles of a window, with mentions per bucket",
)
async def entity_trends(
    trends: TrendsDep,
    since: SinceQ = None,
    until: UntilQ = None,
    bucket: BucketQ = "day",
    label: Annotated[
        str | None, Query(description="Only entities with this label, e.g. PERSON.", pattern=TEXT)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> EntityTrends:
    w = window(bucket, since, until)
    items = await trends.entities(
        since=w.since,
        until=w.until,
        grain=bucket,
        label=label.upper() if label else None,
        limit=limit,
    )
    return EntityTrends(
        bucket=bucket,
        since=w.since,
        until=w.until,
        items=[EntityTrendOut.of(s) for s in items],
    )


@router.get(
    "/stances",
    response_model=StanceTrends,
    responses=problem_openapi(401, 422, 503),
    summary="Favor, against and neutral toward one entity over time, by holder",
    description="The holders with most stances toward the entity in the window (at most "
    "`limit`, ties by name), each with its counts and series per label.",
)
async def stance_trends(
    trends: TrendsDep,
    entity: Annotated[
        str, Query(min_length=1, description="The target, as entities are named.", pattern=TEXT)
    ],
    since: SinceQ = None,
    until: UntilQ = None,
    bucket: BucketQ = "day",
    limit: Annotated[
        int,
        Query(ge=1, le=100, description="The most holders, those with most stances first."),
    ] = 20,
) -> StanceTrends:
    w = window(bucket, since, until)
    items = await trends.stances(
        target=entity, since=w.since, until=w.until, grain=bucket, limit=limit
    )
    return StanceTrends(
        target=entity,
        bucket=bucket,
        since=w.since,
        until=w.until,
        items=[HolderOut.of(h) for h in items],
    )
