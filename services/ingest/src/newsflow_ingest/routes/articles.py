"""POST /v1/articles: one article, validated, normalised and published before the answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from newsflow_ingest.articles import EXAMPLE_HTML, EXAMPLE_TEXT, ArticleIn
from newsflow_ingest.batch import JSON_TYPE
from newsflow_ingest.normaliser import NormaliserUnavailableError
from newsflow_ingest.preparation import Refusal, prepare_body
from newsflow_ingest.producer import Delivery, KafkaUnavailableError
from newsflow_ingest.revisions import Published
from newsflow_ingest.routes.deps import (
    Context,
    publish,
    read_body,
    require_api_key,
    require_media_type,
    unacknowledged,
)
from newsflow_schema import ArticleRawEvent
from newsflow_schema.http import ProblemError
from newsflow_schema.problems import problem_openapi

router = APIRouter()

WRITE_RESPONSES = problem_openapi(400, 401, 413, 415, 422, 503)


class ArticleAccepted(BaseModel):
    """The answer to an accepted article: its id and where Kafka stored it."""

    id: str = Field(description="The article id (deterministic: re-posting gives the same).")
    event_id: str = Field(description="The raw event that carries this revision.")
    status: Literal["queued", "unchanged"] = Field(
        default="queued",
        description="queued: published now. unchanged: this very revision (same "
        "content and metadata) was already published; nothing was sent.",
    )
    duplicate: bool = Field(
        default=False, description="True when status is unchanged: nothing was published."
    )
    topic: str
    partition: int
    offset: int
    location: str = Field(description="Where to read the article back (the read API).")
    title: str | None
    published_at: datetime | None
    content_hash: str = Field(description="Hash of the content and metadata of this revision.")


def _accepted(
    context: Context, event: ArticleRawEvent, delivery: Delivery, status: str, event_id: str
) -> ArticleAccepted:
    article_id = str(event.article_id)
    return ArticleAccepted(
        id=article_id,
        event_id=event_id,
        status="unchanged" if status == "unchanged" else "queued",
        duplicate=status == "unchanged",
        topic=delivery.topic,
        partition=delivery.partition,
        offset=delivery.offset,
        location=context.location(article_id),
        title=event.title,
        published_at=event.published_at,
        content_hash=event.content_hash,
    )


_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            JSON_TYPE: {
                "schema": ArticleIn.model_json_schema(),
                "examples": {
                    "scraped text": {"value": EXAMPLE_TEXT},
                    "html page": {"value": EXAMPLE_HTML},
                },
            }
        },
    }
}


@router.post(
    "/v1/articles",
    status_code=202,
    response_model=ArticleAccepted,
    responses=WRITE_RESPONSES,
    dependencies=[Depends(require_api_key)],
    summary="Submit one article",
    description=(
        "JSON with `text` or `html` (exactly one) and optional `title`, `url`, `source`, "
        "`published_at`, `authors`, `language`, `tags`. The content is cleaned; title, "
        "authors and publication date are extracted only when not given. `published_at` "
        "without a UTC offset is read as UTC. Answers 202 only after Kafka acknowledged "
        "the write; 503 with Retry-After when Kafka is unavailable (or a normalisation "
        "worker died while holding the request). Re-posting the same "
        "article gives the same id: with changed content or metadata it publishes a new "
        "revision (202); identical, it answers 202 with `status: unchanged` and "
        "`duplicate: true` and sends nothing."
    ),
    openapi_extra=_REQUEST_BODY,
)
async def post_article(context: Context, request: Request, response: Response) -> ArticleAccepted:
    require_media_type(request, (JSON_TYPE,))
    body = await read_body(request, context.settings.max_body_bytes)
    try:
        # CPU-bound: in a normalisation worker (or a thread), off the event loop.
        prepared = await context.normaliser.run(prepare_body, body, context.limits())
    except NormaliserUnavailableError:
        context.metrics.rejected.labels("unavailable").inc()
        raise
    if isinstance(prepared, Refusal):
        context.metrics.rejected.labels("invalid").inc()
        raise prepared.problem()
    event = prepared
    known: Published | None = context.revisions.unchanged(event)
    if known is not None:
        response.headers["Location"] = context.location(str(event.article_id))
        return _accepted(context, event, known.delivery, "unchanged", known.event_id)
    (outcome,) = await publish(context, [event], request, "single")
    if isinstance(outcome, KafkaUnavailableError):
        raise unacknowledged(outcome)
    if not isinstance(outcome, Delivery):
        raise ProblemError(413, str(outcome), slug="too-large")
    response.headers["Location"] = context.location(str(event.article_id))
    return _accepted(context, event, outcome, "queued", str(event.event_id))
