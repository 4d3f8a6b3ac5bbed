"""The ingest app: composition of settings, metrics, publisher and the routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from newsflow_ingest.metrics import Metrics, MetricsMiddleware
from newsflow_ingest.normaliser import Normaliser
from newsflow_ingest.producer import EventPublisher, Publisher
from newsflow_ingest.revisions import RecentRevisions
from newsflow_ingest.routes import articles, batch, health
from newsflow_ingest.routes.deps import IngestContext
from newsflow_ingest.settings import Settings
from newsflow_schema.http import install_problem_handlers
from newsflow_schema.logs import TraceMiddleware


def build_app(settings: Settings, publisher: EventPublisher | None = None) -> FastAPI:
    """The ingest app; `publisher` replaces the Kafka publisher (tests use a fake)."""
    metrics = Metrics()
    context = IngestContext(
        settings=settings,
        metrics=metrics,
        publisher=publisher or Publisher(settings),
        revisions=RecentRevisions(settings.recent_revisions),
        normaliser=Normaliser(
            settings.normalise_pool_size,
            log_level=settings.log_level,
            json_lines=settings.log_format == "json",
            on_restart=metrics.normaliser_restarts.inc,
        ),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # The workers (or, with threads, this process) load dateparser's language data
        # (seconds) at start-up, not in the first client's request.
        await context.normaliser.start()
        try:
            await context.publisher.start()
            try:
                yield
            finally:
                await context.publisher.stop()
        finally:
            await context.normaliser.stop()

    app = FastAPI(
        title="newsflow ingest",
        version="0.1.0",
        summary="Accepts news articles over HTTP and publishes them durably to Kafka.",
        lifespan=lifespan,
    )
    # Read by routes.deps.ingest_context, the one dependency every route takes.
    app.state.ingest = context
    app.add_middleware(MetricsMiddleware, metrics=context.metrics)
    app.add_middleware(TraceMiddleware)
    install_problem_handlers(app, retry_after_s=settings.retry_after_s)
    for router in (articles.router, batch.router, health.router):
        app.include_router(router)
    return app
