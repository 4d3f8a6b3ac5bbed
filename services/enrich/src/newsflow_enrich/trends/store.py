"""The trends as the routes see them: a Protocol (a fake in unit tests) and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from newsflow_enrich.db.read import reading
from newsflow_enrich.trends import queries
from newsflow_enrich.trends.queries import EntitySeries, HolderStances, StanceMatrix


class TrendStore(Protocol):
    async def entities(
        self, *, since: datetime, until: datetime, grain: str, label: str | None, limit: int
    ) -> list[EntitySeries]: ...

    async def stances(
        self, *, target: str, since: datetime, until: datetime, grain: str, limit: int
    ) -> list[HolderStances]: ...

    async def matrix(self, *, since: datetime, until: datetime) -> StanceMatrix: ...

    async def speakers(
        self, *, since: datetime, until: datetime, limit: int
    ) -> list[tuple[str, int]]: ...


class PgTrendStore:
    """`TrendStore` over the rollup tables; outages become DatabaseUnavailable."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def entities(
        self, *, since: datetime, until: datetime, grain: str, label: str | None, limit: int
    ) -> list[EntitySeries]:
        async with reading(), self._engine.connect() as conn:
            return await queries.top_entities(
                conn, since=since, until=until, grain=grain, label=label, limit=limit
            )

    async def stances(
        self, *, target: str, since: datetime, until: datetime, grain: str, limit: int
    ) -> list[HolderStances]:
        async with reading(), self._engine.connect() as conn:
            return await queries.stances_toward(
                conn, target=target, since=since, until=until, grain=grain, limit=limit
            )

    async def matrix(self, *, since: datetime, until: datetime) -> StanceMatrix:
        async with reading(), self._engine.connect() as conn:
            return await queries.stance_matrix(conn, since=since, until=until)

    async def speakers(
        self, *, since: datetime, until: datetime, limit: int
    ) -> list[tuple[str, int]]:
        async with reading(), self._engine.connect() as conn:
            return await queries.top_speakers(conn, since=since, until=until, limit=limit)
