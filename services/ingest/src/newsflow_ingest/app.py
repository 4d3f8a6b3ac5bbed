"""The ingest HTTP API: accept articles, normalise them, publish them durably to Kafka."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from newsflow_ingest.articles import (
    EXAMPLE_HTML,
    EXAMPLE_TEXT,
    ArticleIn,
    InvalidArticleError,
    Limits,
    prepare,
)
from newsflow_ingest.metrics import Metrics, MetricsMiddleware
from newsflow_ingest.normalise import normalise
from newsflow_ingest.problems import (
    PROBLEM_CONTENT_TYPE,
    ProblemError,
    field_error,
    problem_body,
    problem_openapi,
    problem_response,
)
from newsflow_ingest.producer import (
    Delivery,
    EventPublisher,
    KafkaUnavailableError,
    Publisher,
    Record,
    RecordRejectedError,
)
from newsflow_ingest.settings import Settings
from newsflow_schema import ArticleRawEvent, encode, encode_headers, logs, topics
from newsflow_schema.logs import TraceMiddleware

log = logging.getLogger(__name__)

JSON_TYPE = "application/json"
NDJSON_TYPE = "application/x-ndjson"

# Stateless request parsers, module-level so FastAPI can resolve them from annotations.
API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False)
BEARER = HTTPBearer(auto_error=False)


class ArticleAccepted(BaseModel):
    """The answer to an accepted article: its id and where Kafka stored it."""

    id: str = Field(description="The article id (deterministic: re-posting gives the same).")
    event_id: str
    status: str = Field(default="queued", description="Enrichment status: queued until read.")
    topic: str
    partition: int
    offset: int
    location: str = Field(description="Where to read the article back (the read API).")
    title: str | None
    published_at: datetime | None
    content_hash: str


class BatchItemResult(BaseModel):
    """The outcome of one item of a batch, in input order."""

    index: int = Field(description="Position of the item in the batch (0-based).")
    status: int = Field(description="202 accepted, 400/413/422 rejected, 503 retry later.")
    id: str | None = None
    event_id: str | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    location: str | None = None
    detail: str | None = None
    errors: list[dict[str, str]] = Field(default_factory=list)


class BatchResult(BaseModel):
    accepted: int
    rejected: int
    results: list[BatchItemResult]


def _media_type(request: Request) -> tuple[str, str | None]:
    raw = request.headers.get("content-type", "")
    media, _, params = raw.partition(";")
    charset: str | None = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media.strip().lower(), charset


def _require_media_type(request: Request, allowed: Sequence[str]) -> str:
    media, charset = _media_type(request)
    if media not in allowed:
        shown = media or "none"
        raise ProblemError(
            415,
            f"Content-Type {shown!r} is not supported here; send {' or '.join(allowed)}",
            headers={"Accept-Post": ", ".join(allowed)},
        )
    if charset not in (None, "utf-8", "utf8"):
        raise ProblemError(415, f"charset {charset!r} is not supported; send UTF-8")
    return media


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing it as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise ProblemError(400, "Content-Length is not a number") from None
        if size > limit:
            raise ProblemError(
                413, f"the body is {size} bytes; the limit is {limit}", slug="too-large"
            )
    chunks: list[bytes] = []
    received = 0
    # Chunked bodies have no Content-Length: count while streaming and stop at the limit.
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise ProblemError(
                413, f"the body exceeds the limit of {limit} bytes", slug="too-large"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _decode_utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ProblemError(
            400,
            f"the body is not valid UTF-8 (bad byte at position {exc.start}); send UTF-8",
            slug="invalid-utf8",
        ) from None


def _parse_json(text: str, what: str = "the body") -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProblemError(
            400,
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            slug="malformed-json",
        ) from None


def _placed(delivery: Delivery) -> dict[str, object]:
    return {"topic": delivery.topic, "partition": delivery.partition, "offset": delivery.offset}


def _traceparent(request: Request) -> str | None:
    # Set per request by TraceMiddleware: the caller's trace, continued with our own span.
    return getattr(request.state, "traceparent", None)


def build_app(settings: Settings, publisher: EventPublisher | None = None) -> FastAPI:
    """The ingest app; `publisher` replaces the Kafka publisher (tests use a fake)."""
    kafka: EventPublisher = publisher or Publisher(settings)
    metrics = Metrics()
    max_future = timedelta(seconds=settings.max_future_s)

    def limits() -> Limits:
        return Limits(
            max_text_chars=settings.max_text_chars,
            max_future=max_future,
            now=datetime.now(UTC),
        )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # dateparser loads its language data on first use (seconds): pay that at start-up,
        # not in the first client's request.
        await asyncio.to_thread(
            normalise, "text", "Headline\n\nSeptember 13, 2022\n\nBody text of the article."
        )
        await kafka.start()
        try:
            yield
        finally:
            await kafka.stop()

    app = FastAPI(
        title="newsflow ingest",
        version="0.1.0",
        summary="Accepts news articles over HTTP and publishes them durably to Kafka.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.publisher = kafka
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(TraceMiddleware)

    def require_api_key(
        x_api_key: Annotated[str | None, Depends(API_KEY_HEADER)],
        authorization: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    ) -> None:
        if not settings.api_keys:
            return
        supplied = x_api_key or (authorization.credentials if authorization else None)
        if supplied and any(
            hmac.compare_digest(supplied.encode(), key.encode()) for key in settings.api_keys
        ):
            return
        raise ProblemError(
            401,
            "a valid API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key'",
            headers={"WWW-Authenticate": "Bearer"},
        )

    def location(article_id: str) -> str:
        return f"{settings.read_api_base_url.rstrip('/')}/v1/articles/{article_id}"

    def unavailable(detail: str) -> ProblemError:
        return ProblemError(
            503,
            f"{detail}; the article was not acknowledged, retry later (re-posting is safe: "
            "the id stays the same)",
            slug="kafka-unavailable",
            headers={"Retry-After": str(settings.retry_after_s)},
        )

    def to_record(event: ArticleRawEvent, request: Request) -> Record:
        headers = encode_headers(
            event,
            source=settings.ce_source,
            subject=str(event.article_id),
            traceparent=_traceparent(request),
        )
        return Record(key=str(event.article_id).encode(), value=encode(event), headers=headers)

    async def publish(
        records: Sequence[Record], endpoint: str
    ) -> list[Delivery | KafkaUnavailableError | RecordRejectedError]:
        if not kafka.connected:
            raise unavailable("Kafka is not reachable")
        started = time.perf_counter()
        try:
            results = await kafka.publish_many(topics.RAW, records)
        except KafkaUnavailableError as exc:
            # The producer went away between the check above and the send.
            raise unavailable(str(exc)) from None
        metrics.publish_seconds.labels(endpoint).observe(time.perf_counter() - started)
        return results

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(exc, instance=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            field_error(".".join(str(p) for p in e["loc"]), str(e["msg"])) for e in exc.errors()
        ]
        return problem_response(
            ProblemError(422, "the request is invalid", errors=errors), instance=request.url.path
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            ProblemError(exc.status_code, str(exc.detail), headers=exc.headers),
            instance=request.url.path,
        )

    write_responses = problem_openapi(400, 401, 413, 415, 422, 503)

    @app.post(
        "/v1/articles",
        status_code=202,
        response_model=ArticleAccepted,
        responses=write_responses,
        dependencies=[Depends(require_api_key)],
        summary="Submit one article",
        description=(
            "JSON with `text` or `html` (exactly one) and optional `title`, `url`, `source`, "
            "`published_at`, `authors`, `language`, `tags`. The content is cleaned and the "
            "title and publication date are extracted when not given. `published_at` "
            "without a UTC offset is read as UTC. Answers 202 only after Kafka acknowledged "
            "the write; 503 with Retry-After when Kafka is unavailable. Re-posting the "
            "same article gives the same id."
        ),
        openapi_extra={
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
        },
    )
    async def post_article(request: Request, response: Response) -> ArticleAccepted:
        _require_media_type(request, (JSON_TYPE,))
        payload = _parse_json(_decode_utf8(await _read_body(request, settings.max_body_bytes)))
        try:
            event = await asyncio.to_thread(prepare, payload, limits())
        except InvalidArticleError as exc:
            metrics.rejected.labels("invalid").inc()
            raise ProblemError(
                422, "the article is invalid; see errors", errors=exc.errors
            ) from None
        try:
            (result,) = await publish([to_record(event, request)], "single")
        except ProblemError:
            metrics.rejected.labels("unavailable").inc()
            raise
        if isinstance(result, KafkaUnavailableError):
            metrics.rejected.labels("unavailable").inc()
            raise unavailable(str(result))
        if isinstance(result, RecordRejectedError):
            metrics.rejected.labels("too_large").inc()
            raise ProblemError(413, str(result), slug="too-large")
        metrics.accepted.inc()
        article_id = str(event.article_id)
        with logs.context(article_id=article_id):
            log.info("article accepted", extra=_placed(result))
        response.headers["Location"] = location(article_id)
        return ArticleAccepted(
            id=article_id,
            event_id=str(event.event_id),
            topic=result.topic,
            partition=result.partition,
            offset=result.offset,
            location=location(article_id),
            title=event.title,
            published_at=event.published_at,
            content_hash=event.content_hash,
        )

    @app.post(
        "/v1/articles:batch",
        status_code=202,
        response_model=BatchResult,
        responses={
            207: {"description": "Some items accepted, some rejected", "model": BatchResult},
            **write_responses,
        },
        dependencies=[Depends(require_api_key)],
        summary="Submit many articles",
        description=(
            "A JSON array of articles, or NDJSON (`application/x-ndjson`, one article per "
            "line), up to the configured number of items. Valid items are published in one "
            "producer batch, invalid ones are reported; `results` has one entry per item in "
            "input order. 202 when every item was accepted, 207 when some were, 422 when "
            "none was valid, 503 with Retry-After when Kafka is unavailable."
        ),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    JSON_TYPE: {
                        "schema": {"type": "array", "items": ArticleIn.model_json_schema()},
                        "example": [EXAMPLE_TEXT, EXAMPLE_HTML],
                    },
                    NDJSON_TYPE: {
                        "schema": {"type": "string"},
                        "example": json.dumps(EXAMPLE_TEXT) + "\n" + json.dumps(EXAMPLE_HTML),
                    },
                },
            }
        },
    )
    async def post_batch(request: Request) -> JSONResponse:
        media = _require_media_type(request, (JSON_TYPE, NDJSON_TYPE))
        text = _decode_utf8(await _read_body(request, settings.max_batch_body_bytes))
        items: list[Any] = []
        parse_errors: dict[int, str] = {}
        if media == NDJSON_TYPE:
            for line_no, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    items.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    parse_errors[len(items)] = f"line {line_no} is not valid JSON: {exc.msg}"
                    items.append(None)
        else:
            parsed = _parse_json(text)
            if not isinstance(parsed, list):
                raise ProblemError(
                    422,
                    "a batch is a JSON array of articles (or NDJSON, one article per line)",
                    errors=[field_error("body", "must be a JSON array")],
                )
            items = parsed
        if not items:
            raise ProblemError(
                422, "the batch is empty", errors=[field_error("body", "has no articles")]
            )
        if len(items) > settings.max_batch_items:
            raise ProblemError(
                413,
                f"the batch has {len(items)} articles; the limit is {settings.max_batch_items}",
                slug="too-many-items",
            )

        now_limits = limits()

        def prepare_all() -> list[ArticleRawEvent | BatchItemResult]:
            prepared: list[ArticleRawEvent | BatchItemResult] = []
            for index, item in enumerate(items):
                if index in parse_errors:
                    prepared.append(
                        BatchItemResult(index=index, status=400, detail=parse_errors[index])
                    )
                    continue
                try:
                    prepared.append(prepare(item, now_limits))
                except InvalidArticleError as exc:
                    prepared.append(
                        BatchItemResult(
                            index=index,
                            status=422,
                            detail="the article is invalid; see errors",
                            errors=exc.errors,
                        )
                    )
            return prepared

        prepared = await asyncio.to_thread(prepare_all)
        valid = [(i, p) for i, p in enumerate(prepared) if isinstance(p, ArticleRawEvent)]
        results: list[BatchItemResult] = [
            p if isinstance(p, BatchItemResult) else BatchItemResult(index=i, status=0)
            for i, p in enumerate(prepared)
        ]
        metrics.rejected.labels("invalid").inc(len(items) - len(valid))
        if valid:
            try:
                deliveries = await publish(
                    [to_record(event, request) for _, event in valid], "batch"
                )
            except ProblemError:
                metrics.rejected.labels("unavailable").inc(len(valid))
                raise
            for (index, event), delivery in zip(valid, deliveries, strict=True):
                results[index] = _item_result(index, event, delivery, location)
                if isinstance(delivery, Delivery):
                    metrics.accepted.inc()
                    with logs.context(article_id=str(event.article_id)):
                        log.info("article accepted", extra=_placed(delivery))
                elif isinstance(delivery, RecordRejectedError):
                    metrics.rejected.labels("too_large").inc()
                else:
                    metrics.rejected.labels("unavailable").inc()
        accepted = sum(1 for r in results if r.status == 202)
        body = BatchResult(accepted=accepted, rejected=len(results) - accepted, results=results)
        if accepted == len(results):
            return JSONResponse(body.model_dump(mode="json"), status_code=202)
        if accepted:
            return JSONResponse(body.model_dump(mode="json"), status_code=207)
        if valid and all(results[index].status == 503 for index, _ in valid):
            problem = unavailable("Kafka did not acknowledge the batch")
            return JSONResponse(
                problem_body(
                    503,
                    problem.detail,
                    slug=problem.slug,
                    instance=request.url.path,
                    extra=body.model_dump(mode="json"),
                ),
                status_code=503,
                headers=problem.headers,
                media_type=PROBLEM_CONTENT_TYPE,
            )
        return JSONResponse(
            problem_body(
                422,
                "no article of the batch was accepted; see results",
                instance=request.url.path,
                extra=body.model_dump(mode="json"),
            ),
            status_code=422,
            media_type=PROBLEM_CONTENT_TYPE,
        )

    @app.get("/healthz", summary="Liveness: the process serves requests")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        summary="Readiness: Kafka answers",
        responses=problem_openapi(503),
    )
    async def readyz() -> dict[str, str]:
        if not await kafka.ready():
            raise ProblemError(
                503,
                "Kafka is not reachable",
                slug="not-ready",
                headers={"Retry-After": str(settings.retry_after_s)},
                extra={"kafka": "unreachable"},
            )
        return {"status": "ready", "kafka": "ok"}

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _item_result(
    index: int,
    event: ArticleRawEvent,
    delivery: Delivery | KafkaUnavailableError | RecordRejectedError,
    location: Callable[[str], str],
) -> BatchItemResult:
    article_id = str(event.article_id)
    if isinstance(delivery, Delivery):
        return BatchItemResult(
            index=index,
            status=202,
            id=article_id,
            event_id=str(event.event_id),
            topic=delivery.topic,
            partition=delivery.partition,
            offset=delivery.offset,
            location=location(article_id),
        )
    status = 413 if isinstance(delivery, RecordRejectedError) else 503
    return BatchItemResult(index=index, status=status, id=article_id, detail=str(delivery))
