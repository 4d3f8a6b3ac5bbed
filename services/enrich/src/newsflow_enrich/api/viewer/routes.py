"""The viewer's HTML routes: /articles, /articles/{id} and /trends, read through the stores."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from newsflow_enrich.api.deps import KeyRequired, RuntimeDep, StoreDep
from newsflow_enrich.api.routes import TEXT
from newsflow_enrich.api.schemas import ArticleOut, ArticleSummary
from newsflow_enrich.api.trends import TrendsDep, window
from newsflow_enrich.api.viewer.render import problem_html, render_article, render_list
from newsflow_enrich.api.viewer.trends import render_trends
from newsflow_enrich.db.read import ArticleQuery, CursorError, decode_cursor
from newsflow_schema.http import ServiceUnavailable

log = logging.getLogger(__name__)

PAGE_SIZE = 50

# The body is untrusted input: the page runs no script at all, so even a rendering bug
# cannot become script execution; links to the article's own URL leak no referrer.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(include_in_schema=False, dependencies=[KeyRequired])


def html(content: str, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(
        content, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})}
    )


def problem_page(status: int, title: str, detail: str) -> HTMLResponse:
    return html(problem_html(status, title, detail), status)


def unavailable_page(exc: ServiceUnavailable, retry_after_s: int) -> HTMLResponse:
    log.warning("viewer: answering 503: %s", exc.detail)
    return html(
        problem_html(503, "Service Unavailable", f"{exc.detail}; retry in a few seconds."),
        503,
        {"Retry-After": str(retry_after_s)},
    )


@router.get("/articles/{article_id}", response_class=HTMLResponse)
async def view_article(article_id: str, store: StoreDep, rt: RuntimeDep) -> HTMLResponse:
    try:
        key = uuid.UUID(article_id)
    except ValueError:
        return problem_page(404, "Not Found", f"{article_id!r} is not an article id.")
    try:
        stored = await store.article(key)
    except ServiceUnavailable as exc:
        return unavailable_page(exc, rt.settings.retry_after_s)
    if stored is None:
        return problem_page(404, "Not Found", f"No article {key} is stored.")
    if not stored.visible:
        return problem_page(404, "Not Found", f"Article {key} is not enriched yet.")
    return html(render_article(ArticleOut.from_stored(stored)))


@router.get("/trends", response_class=HTMLResponse)
async def trends_page(
    trends: TrendsDep,
    rt: RuntimeDep,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> HTMLResponse:
    # The same window as /v1/trends/entities: whole days up to the end of today.
    until = window("day", None, None).until
    w = window("day", until - timedelta(days=days), until)
    try:
        entities = await trends.entities(
            since=w.since, until=w.until, grain="day", label=None, limit=15
        )
        matrix = await trends.matrix(since=w.since, until=w.until)
        speakers = await trends.speakers(since=w.since, until=w.until, limit=10)
    except ServiceUnavailable as exc:
        return unavailable_page(exc, rt.settings.retry_after_s)
    return html(
        render_trends(
            days=days,
            since=w.since,
            until=w.until,
            entities=entities,
            matrix=matrix,
            speakers=speakers,
        )
    )


@router.get("/articles", response_class=HTMLResponse)
async def list_articles(
    store: StoreDep,
    rt: RuntimeDep,
    entity: Annotated[str, Query(pattern=TEXT)] = "",
    cursor: Annotated[str | None, Query(pattern=TEXT)] = None,
) -> HTMLResponse:
    try:
        position = decode_cursor(cursor) if cursor else None
        rows, next_cursor = await store.articles(
            ArticleQuery(entity=entity or None, limit=PAGE_SIZE, cursor=position)
        )
    except CursorError as exc:
        return problem_page(400, "Bad Request", str(exc))
    except ServiceUnavailable as exc:
        return unavailable_page(exc, rt.settings.retry_after_s)
    next_query = None
    if next_cursor is not None:
        next_query = urlencode({"cursor": next_cursor, **({"entity": entity} if entity else {})})
    items = [ArticleSummary.from_row(r) for r in rows]
    return html(render_list(items, next_query, entity))
