"""POST /v1/articles:batch: many articles (JSON array or NDJSON), one result per item."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from newsflow_ingest import batch
from newsflow_ingest.articles import EXAMPLE_HTML, EXAMPLE_TEXT, ArticleIn, Limits
from newsflow_ingest.batch import JSON_TYPE, NDJSON_TYPE, BatchItemResult, BatchResult
from newsflow_ingest.normaliser import NormaliserUnavailableError
from newsflow_ingest.preparation import Prepared, is_flat, prepare_items
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

# A batch goes to the workers in chunks of at most this many items: small enough that
# every worker gets a share and the results come back while the others still run.
CHUNK_ITEMS = 16


def _items(media: str, body: bytes, max_items: int) -> list[Any]:
    """The items of a batch body, or the problem (400, 413, 422) of the whole batch."""
    return batch.batch_items(media, batch.decode_utf8(body), max_items)


def _prepare_all(media: str, body: bytes, max_items: int, limits: Limits) -> list[Prepared]:
    """Decode, split, validate and normalise a batch in one thread (threads mode)."""
    return prepare_items(list(enumerate(_items(media, body, max_items))), limits)


def chunks(count: int, processes: int) -> list[range]:
    """Index ranges splitting `count` items between `processes` workers, each at most
    CHUNK_ITEMS long: as many near-equal parts as keep every worker busy, more when a
    part would be over CHUNK_ITEMS."""
    if count <= 0:
        return []
    parts = max(min(count, max(1, processes)), -(-count // CHUNK_ITEMS))
    return [range(i * count // parts, (i + 1) * count // parts) for i in range(parts)]


async def _prepare(context: Context, media: str, body: bytes) -> list[Prepared]:
    limits, max_items = context.limits(), context.settings.max_batch_items
    normaliser = context.normaliser
    if normaliser.processes == 0:
        return await asyncio.to_thread(_prepare_all, media, body, max_items, limits)
    # Splitting the body is json.loads: one call, in a thread so the loop can interleave.
    items = await asyncio.to_thread(_items, media, body, max_items)
    # What is not shaped like an article is refused here, unpickled; the rest in the workers.
    articles = [(i, item) for i, item in enumerate(items) if is_flat(item)]
    others = [(i, item) for i, item in enumerate(items) if not is_flat(item)]
    parts = [
        articles[part.start : part.stop] for part in chunks(len(articles), normaliser.processes)
    ]
    try:
        prepared = await asyncio.gather(
            *(normaliser.run(prepare_items, part, limits) for part in parts),
            asyncio.to_thread(prepare_items, others, limits),
        )
    except NormaliserUnavailableError:
        context.metrics.rejected.labels("unavailable").inc(len(items))
        raise
    ordered: list[Prepared | None] = [None] * len(items)
    for part, results in zip([*parts, others], prepared, strict=True):
        for (index, _), result in zip(part, results, strict=True):
            ordered[index] = result
    return [result for result in ordered if result is not None]


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
        "when none was valid, 503 with Retry-After when Kafka is unavailable (or a "
        "normalisation worker died while holding the batch)."
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
    prepared = await _prepare(context, media, body)
    invalid = sum(1 for item in prepared if isinstance(item, BatchItemResult))
    context.metrics.rejected.labels("invalid").inc(invalid)
    results = await _results(context, request, prepared)
    return _response(context, request, batch.answer(results))
