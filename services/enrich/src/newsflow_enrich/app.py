"""The enrich HTTP app: read API over PostgreSQL, health, metrics; runs consumer and relay."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.exceptions import HTTPException as StarletteHTTPException

from newsflow_enrich import store, viewer
from newsflow_enrich.nlp.workers import AnalysisRunner
from newsflow_enrich.runtime import Runtime
from newsflow_enrich.settings import Settings
from newsflow_schema import Entity, Mention, ModelInfo, Quote, Span, Stance, Tone
from newsflow_schema.logs import TraceMiddleware
from newsflow_schema.problems import PROBLEM_CONTENT_TYPE, problem_body, problem_openapi

log = logging.getLogger(__name__)

# Query text PostgreSQL can hold: anything but NUL, which it refuses in text values.
TEXT = r"^[^\x00]*$"


# --- response models -----------------------------------------------------------------


class ArticleOut(BaseModel):
    article_id: uuid.UUID
    status: str
    version: int
    url: str | None
    canonical_url: str | None
    source: str | None
    title: str | None
    body: str = Field(description="The stored body; every offset below points into it.")
    published_at: datetime | None
    language: str | None
    content_hash: str
    authors: list[str]
    tags: list[str]
    raw_event_id: uuid.UUID
    enriched_event_id: uuid.UUID | None
    received_at: datetime
    enriched_at: datetime | None
    updated_at: datetime
    entities: list[Entity]
    quotes: list[Quote]
    stances: list[Stance]
    tone: Tone | None
    models: list[ModelInfo]


class ArticleSummary(BaseModel):
    article_id: uuid.UUID
    status: str
    title: str | None
    url: str | None
    source: str | None
    language: str | None
    published_at: datetime | None
    received_at: datetime
    enriched_at: datetime | None


class ArticlePage(BaseModel):
    items: list[ArticleSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end.")


class EntityCount(BaseModel):
    name: str
    label: str
    article_count: int


class EntityList(BaseModel):
    items: list[EntityCount]


def problem(status: int, title: str, detail: str | None = None, **extra: Any) -> JSONResponse:
    body = problem_body(status, detail or title, extra={"title": title, **extra})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_CONTENT_TYPE)


def article_out(row: dict[str, Any]) -> ArticleOut:
    tone = None
    if row["tone"] is not None:
        tone = Tone(
            tone=row["tone"],
            positive=row["tone_positive"],
            negative=row["tone_negative"],
            polarity=row["tone_polarity"],
        )
    return ArticleOut(
        article_id=row["article_id"],
        status=row["status"],
        version=row["version"],
        url=row["url"],
        canonical_url=row["canonical_url"],
        source=row["source"],
        title=row["title"],
        body=row["body"],
        published_at=row["published_at"],
        language=row["language"],
        content_hash=row["content_hash"],
        authors=list(row["authors"] or []),
        tags=list(row["tags"] or []),
        raw_event_id=row["raw_event_id"],
        enriched_event_id=row["enriched_event_id"],
        received_at=row["received_at"],
        enriched_at=row["enriched_at"],
        updated_at=row["updated_at"],
        entities=[
            Entity(
                name=e["name"],
                label=e["label"],
                mentions=tuple(Mention(**m) for m in e["mentions"]),
                mention_count=e["mention_count"],
                salience=e["salience"],
            )
            for e in row["entities"]
        ],
        quotes=[
            Quote(
                text=q["text"],
                span=Span(start=q["start_char"], end=q["end_char"]),
                kind=q["kind"],
                speaker=q["speaker"],
                speaker_entity=q["speaker_entity"],
                speaker_span=(
                    Span(start=q["speaker_start"], end=q["speaker_end"])
                    if q["speaker_start"] is not None and q["speaker_end"] is not None
                    else None
                ),
                cue=q["cue"],
            )
            for q in row["quotes"]
        ],
        stances=[
            Stance(
                holder=s["holder"],
                holder_type=s["holder_type"],
                target=s["target"],
                label=s["label"],
                score=s["score"],
                evidence=tuple(Span(**span) for span in s["evidence"]),
            )
            for s in row["stances"]
        ],
        tone=tone,
        models=[ModelInfo(**m) for m in row["models"]],
    )


# --- wiring --------------------------------------------------------------------------


def build_app(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    nlp_factory: Callable[[Settings], AnalysisRunner] | None = None,
) -> FastAPI:
    """The enrich app; `engine` and `nlp_factory` replace the real ones (tests)."""
    rt = Runtime(settings, engine=engine, nlp_factory=nlp_factory)
    metrics = rt.metrics

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.runtime = rt
        await rt.start()
        try:
            yield
        finally:
            await rt.stop()

    app = FastAPI(
        title="newsflow enrich",
        version="0.1.0",
        description="Enriched articles read from PostgreSQL; health and metrics.",
        lifespan=lifespan,
    )
    app.add_middleware(TraceMiddleware)

    @app.exception_handler(StarletteHTTPException)
    async def http_problem(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, _title(exc.status_code), str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_problem(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        fields = ", ".join(".".join(map(str, e["loc"])) for e in errors)
        return problem(
            422, "Unprocessable Content", f"invalid parameter(s): {fields}", errors=errors
        )

    @app.exception_handler(store.CursorError)
    async def cursor_problem(request: Request, exc: store.CursorError) -> JSONResponse:
        return problem(400, "Bad Request", str(exc))

    async def db_down_problem(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %r", exc)
        response = problem(503, "Service Unavailable", "the database is unavailable; retry")
        response.headers["Retry-After"] = "5"
        return response

    # asyncpg reports a refused connection as the bare OSError, not wrapped by SQLAlchemy.
    for unavailable in (OperationalError, InterfaceError, OSError):
        app.add_exception_handler(unavailable, db_down_problem)

    def runtime(request: Request) -> Runtime:
        rt: Runtime = request.app.state.runtime
        return rt

    @app.get(
        "/v1/articles/{article_id}",
        response_model=ArticleOut,
        responses=problem_openapi(404, 422, 503),
    )
    async def get_article(article_id: uuid.UUID, request: Request) -> ArticleOut:
        row = await store.get_article(runtime(request).engine, article_id)
        if row is None or row["status"] != "enriched":
            raise HTTPException(404, f"article {article_id} is not enriched (yet)")
        return article_out(row)

    @app.get("/v1/articles", response_model=ArticlePage, responses=problem_openapi(400, 422, 503))
    async def list_articles(
        request: Request,
        entity: Annotated[
            str | None, Query(description="Entity name, case-insensitive.", pattern=TEXT)
        ] = None,
        label: Annotated[
            str | None, Query(description="Entity label, e.g. PERSON.", pattern=TEXT)
        ] = None,
        stance: Annotated[
            Literal["favor", "against", "neutral"] | None,
            Query(description="Has a stance with this label (toward `entity` when given)."),
        ] = None,
        since: Annotated[
            AwareDatetime | None, Query(description="Received at or after (RFC 3339).")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[
            str | None, Query(description="The previous page's next_cursor.", pattern=TEXT)
        ] = None,
    ) -> ArticlePage:
        rows, next_cursor = await store.list_articles(
            runtime(request).engine,
            entity=entity,
            label=label,
            stance=stance,
            since=since,
            limit=limit,
            cursor=store.decode_cursor(cursor) if cursor else None,
        )
        return ArticlePage(items=[ArticleSummary(**r) for r in rows], next_cursor=next_cursor)

    @app.get("/v1/entities", response_model=EntityList, responses=problem_openapi(422, 503))
    async def list_entities(
        request: Request,
        q: Annotated[str | None, Query(description="Substring of the name.", pattern=TEXT)] = None,
        label: Annotated[str | None, Query(pattern=TEXT)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> EntityList:
        rows = await store.list_entities(runtime(request).engine, q=q, label=label, limit=limit)
        return EntityList(items=[EntityCount(**r) for r in rows])

    @app.get("/healthz", responses=problem_openapi(503))
    async def healthz(request: Request) -> Response:
        """Liveness: fails when the consumer has lag but fetched nothing for too long."""
        alive, description = runtime(request).live()
        if not alive:
            return problem(503, "Consumer stalled", description)
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", responses=problem_openapi(503))
    async def readyz(request: Request) -> Response:
        rt = runtime(request)
        ready = await rt.ready()
        checks = {name: "ok" if ok else _not_ready(rt, name) for name, ok in ready.items()}
        if all(ready.values()):
            return JSONResponse({"status": "ready", "checks": checks})
        return problem(503, "Service Unavailable", "not ready", checks=checks)

    app.include_router(viewer.router(lambda request: runtime(request).engine, article_out))

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _not_ready(rt: Runtime, name: str) -> str:
    task = rt.tasks.get(name)
    if task is not None and task.done():
        return "stopped"
    return "unavailable" if name == "database" else "not connected to Kafka"


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
