"""The read API: /v1/articles (one, or a filtered page) and /v1/entities."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from newsflow_enrich.api.deps import KeyRequired, StoreDep
from newsflow_enrich.api.schemas import (
    ArticleOut,
    ArticlePage,
    ArticleSummary,
    EntityCount,
    EntityList,
)
from newsflow_enrich.db.read import ArticleQuery, CursorError, decode_cursor
from newsflow_schema.http import ProblemError
from newsflow_schema.problems import field_error, problem_openapi

# Query text PostgreSQL can hold: anything but NUL, which it refuses in text values.
TEXT = r"^[^\x00]*$"

router = APIRouter(prefix="/v1", dependencies=[KeyRequired])


def utc_instant(name: str, value: datetime | None) -> datetime | None:
    """`value` as UTC; 422 naming `name` when its offset takes it out of the datetime range."""
    if value is None:
        return None
    try:
        return value.astimezone(UTC)
    except OverflowError:
        message = "the instant with its offset is outside years 1-9999 in UTC; use a real date"
        raise ProblemError(
            422,
            f"the request is invalid: query.{name}",
            errors=[field_error(f"query.{name}", message)],
        ) from None


def cursor_position(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if not cursor:
        return None
    try:
        return decode_cursor(cursor)
    except CursorError as exc:
        raise ProblemError(400, str(exc), errors=[field_error("query.cursor", str(exc))]) from exc


@router.get(
    "/articles/{article_id}",
    response_model=ArticleOut,
    responses=problem_openapi(401, 404, 422, 503),
    summary="One article: enriched, or failed with the reason",
)
async def get_article(article_id: uuid.UUID, store: StoreDep) -> ArticleOut:
    """The stored article. `status` is `enriched`, or `failed` with a `failure` object (an
    older enriched version, if any, is still returned); 404 while it is not enriched yet,
    or when the id is unknown."""
    stored = await store.article(article_id)
    if stored is None or not stored.visible:
        raise ProblemError(
            404,
            f"article {article_id} is not enriched yet, or unknown: an article just accepted "
            "appears here within seconds; check the id otherwise",
            slug="article-not-found",
        )
    return ArticleOut.from_stored(stored)


@router.get(
    "/articles",
    response_model=ArticlePage,
    responses=problem_openapi(400, 401, 422, 503),
    summary="Articles newest first, enriched and failed, filtered and keyset-paginated",
)
async def list_articles(
    store: StoreDep,
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
    status: Annotated[
        Literal["enriched", "failed"] | None,
        Query(description="Only enriched, or only failed articles; both when absent."),
    ] = None,
    since: Annotated[
        AwareDatetime | None,
        Query(description="Received at or after (RFC 3339 with an offset)."),
    ] = None,
    dedupe: Annotated[
        bool,
        Query(
            description="One article per near-duplicate story: copies of an earlier article "
            "(syndicated, re-crawled, updated under another URL) are left out."
        ),
    ] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None, Query(description="The previous page's next_cursor.", pattern=TEXT)
    ] = None,
) -> ArticlePage:
    query = ArticleQuery(
        entity=entity,
        label=label,
        stance=stance,
        status=status,
        since=utc_instant("since", since),
        dedupe=dedupe,
        limit=limit,
        cursor=cursor_position(cursor),
    )
    rows, next_cursor = await store.articles(query)
    return ArticlePage(items=[ArticleSummary.from_row(r) for r in rows], next_cursor=next_cursor)


@router.get("/entities", response_model=EntityList, responses=problem_openapi(401, 422, 503))
async def list_entities(
    store: StoreDep,
    q: Annotated[str | None, Query(description="Substring of the name.", pattern=TEXT)] = None,
    label: Annotated[str | None, Query(pattern=TEXT)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> EntityList:
    rows = await store.entities(q=q, label=label, limit=limit)
    return EntityList(items=[EntityCount.from_row(r) for r in rows])
