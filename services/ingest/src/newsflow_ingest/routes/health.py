"""Liveness, readiness and Prometheus metrics of ingest."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from newsflow_ingest.routes.deps import Context
from newsflow_schema.http import ProblemError
from newsflow_schema.problems import problem_openapi

router = APIRouter()


@router.get("/healthz", summary="Liveness: the process serves requests")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: Kafka answers", responses=problem_openapi(503))
async def readyz(context: Context) -> dict[str, str]:
    if not await context.publisher.ready():
        raise ProblemError(
            503,
            "Kafka is not reachable",
            slug="not-ready",
            headers={"Retry-After": str(context.settings.retry_after_s)},
            extra={"kafka": "unreachable"},
        )
    return {"status": "ready", "kafka": "ok"}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus(context: Context) -> Response:
    return Response(generate_latest(context.metrics.registry), media_type=CONTENT_TYPE_LATEST)
