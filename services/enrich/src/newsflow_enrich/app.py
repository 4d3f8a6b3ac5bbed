"""The enrich HTTP app: mounts the read API, probes, metrics and viewer; one error installer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from newsflow_enrich.api import health, routes, trends
from newsflow_enrich.api.deps import Access
from newsflow_enrich.api.viewer import routes as viewer
from newsflow_enrich.db.read import PgReadStore, ReadStore
from newsflow_enrich.nlp.workers import AnalysisRunner
from newsflow_enrich.runtime import Runtime
from newsflow_enrich.settings import Settings
from newsflow_enrich.trends.store import PgTrendStore, TrendStore
from newsflow_schema.http import install_problem_handlers
from newsflow_schema.logs import TraceMiddleware


def build_app(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    store: ReadStore | None = None,
    engine: AsyncEngine | None = None,
    nlp_factory: Callable[[Settings], AnalysisRunner] | None = None,
    trend_store: TrendStore | None = None,
) -> FastAPI:
    """The app over `runtime`, which its lifespan starts and stops.

    Without `runtime`, one is built from `settings`, `engine` and `nlp_factory`; `store`
    and `trend_store` replace the PostgreSQL read and trend stores (unit tests).
    """
    if runtime is None:
        runtime = Runtime(settings, engine=engine, nlp_factory=nlp_factory)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="newsflow enrich",
        version="0.1.0",
        description=(
            "Enriched (and failed) articles read from PostgreSQL; health and metrics. When "
            "ENRICH_API_KEYS is set, /v1/*, the viewer and /metrics need "
            "`Authorization: Bearer <key>` or `X-API-Key: <key>`; /healthz and /readyz stay open."
        ),
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.read_store = store if store is not None else PgReadStore(runtime.engine)
    app.state.trend_store = trend_store if trend_store is not None else PgTrendStore(runtime.engine)
    app.state.access = Access.of(settings.api_key_set())
    app.add_middleware(TraceMiddleware)
    install_problem_handlers(app, retry_after_s=settings.retry_after_s)
    app.include_router(routes.router)
    app.include_router(trends.router)
    app.include_router(health.router)
    app.include_router(viewer.router)
    return app
