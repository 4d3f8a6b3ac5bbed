"""POST /v1/articles:batch: many articles (JSON array or NDJSON), one result per item."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from newsflow_ingest import batch
from newsflow_ingest.articles import (
    EXAMPLE_HTML,
    EXAMPLE_TEXT,
    ArticleIn,
    InvalidArticleError,
    Limits,
    prepare,
)
from newsflow_ingest.batch import JSON_TYPE, NDJSON_TYPE, BatchItemResult, BatchResult, LineError
from newsflow_ingest.producer import KafkaUnavailableError
from newsflow_ingest.routes.articles import WRITE_RESPONSES
from newsflow_ingest.routes.deps import (
    Context,
    publish,
    read_body,
    require_api_key,
    require_media_type,
)
from newsflow_schema import ArticleRawEvent
from newsflow_schema.http import ProblemError, unavailable_problem
from newsflow_schema.problems import PROBLEM_CONTENT_TYPE, problem_body

router = APIRouter()

Prepared = ArticleRawEvent | BatchItemResult


def _prepare_item(index: int, item: Any, limits: Limits) -> Prepared:
    if isinstance(item, LineError):
        return BatchItemResult(index=index, status=400, detail=item.message)
    try:
        return prepare(item, limits)
    except InvalidArticleError as exc:
        return BatchItemResult(index=index, status=422, detail=exc.summary(), errors=exc.errors)


def _prepare_all(media: str, body: bytes, max_items: int, limits: Limits) -> list[Prepared]:
    """Decode, split, validate and normalise a batch (CPU-bound: runs in a thread)."""
    items = batch.batch_items(media, batch.decode_utf8(body), max_items)
    return [_prepare_item(index, item, limits) for index, item in enumerate(items)]


def _unchanged(index: int, event: ArticleRawEvent, context: Context) -> BatchItemResult | None:
    known = context.revisions.unchanged(event)
    if known is None:
        return None
    article_id = str(event.article_id)
    return BatchItemResult(
        index=index,
        status=202,
        duplicate=True,
        id=article_id,
        event_id=known.event_id,
        topic=known.delivery.topic,
        partition=known.delivery.partition,
        offset=known.delivery.offset,
        location=context.location(article_id),
        detail="unchanged: this revision was already published",
    )


async def _results(
    context: Context, request: Request, prepared: list[Prepared]
) -> list[BatchItemResult]:
    results: list[BatchItemResult | None] = []
    to_publish: list[tuple[int, ArticleRawEvent]] = []
    for index, item in enumerate(prepared):
        if isinstance(item, BatchItemResult):
            results.append(item)
            continue
        same = _unchanged(index, item, context)
        results.append(same)
        if same is None:
            to_publish.append((index, item))
    if to_publish:
        outcomes = await publish(context, [event for _, event in to_publish], request, "batch")
        for (index, event), outcome in zip(to_publish, outcomes, strict=True):
            results[index] = batch.placed_result(index, event, outcome, context.location)
    return [r for r in results if r is not None]


def _response(context: Context, request: Request, answer: batch.BatchAnswer) -> JSONResponse:
    content = answer.body.model_dump(mode="json")
    if answer.status in (202, 207):
        return JSONResponse(content, status_code=answer.status)
    if answer.status == 503:
        problem = unavailable_problem(
            KafkaUnavailableError("Kafka did not acknowledge the batch; retry later"),
            retry_after_s=context.settings.retry_after_s,
        )
    else:
        problem = ProblemError(422, "no article of the batch was accepted; see results")
    return JSONResponse(
        problem_body(
            problem.status,
            problem.detail,
            slug=problem.slug,
            instance=request.url.path,
            extra=content,
        ),
        status_code=problem.status,
        headers=problem.headers,
        media_type=PROBLEM_CONTENT_TYPE,
    )


@router.post(
    "/v1/articles:batch",
    status_code=202,
    response_model=BatchResult,
    responses={
        207: {"description": "Some items accepted, some rejected", "model": BatchResult},
        **WRITE_RESPONSES,
    },
    dependencies=[Depends(require_api_key)],
    summary="Submit many articles",
    description=(
        "A JSON array of articles, or NDJSON (`application/x-ndjson`, one article per "
        "LF-terminated line; blank lines are skipped), up to the configured number of items "
        "(413 beyond). An empty batch (`[]`, or NDJSON without a line) is refused with 422. "
        "Valid items are published in one producer batch, invalid ones are reported; a line "
        "that is not JSON fails only its own item (400). `results` has one entry per item in "
        "input order. 202 when every item was accepted or unchanged, 207 when some were, 422 "
        "when none was valid, 503 with Retry-After when Kafka is unavailable."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                JSON_TYPE: {
                    "schema": {
                        "type": "array",
                        "minItems": 1,
                        "items": ArticleIn.model_json_schema(),
                    },
                    "example": [EXAMPLE_TEXT, EXAMPLE_HTML],
                },
                NDJSON_TYPE: {
                    "schema": {"type": "string", "minLength": 2},
                    "example": json.dumps(EXAMPLE_TEXT) + "\n" + json.dumps(EXAMPLE_HTML),
                },
            },
        }
    },
)
async def post_batch(context: Context, request: Request) -> JSONResponse:
    media = require_media_type(request, (JSON_TYPE, NDJSON_TYPE))
    body = await read_body(request, context.settings.max_batch_body_bytes)
    prepared = await asyncio.to_thread(
        _prepare_all, media, body, context.settings.max_batch_items, context.limits()
    )
    invalid = sum(1 for item in prepared if isinstance(item, BatchItemResult))
    context.metrics.rejected.labels("invalid").inc(invalid)
    results = await _results(context, request, prepared)
    return _response(context, request, batch.answer(results))
