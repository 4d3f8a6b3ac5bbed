"""Probes and metrics: /healthz (liveness), /readyz (dependencies), /metrics (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from newsflow_enrich.api.deps import KeyRequired, RuntimeDep
from newsflow_enrich.runtime import Runtime
from newsflow_schema.http import ProblemError, problem_response
from newsflow_schema.problems import problem_openapi

router = APIRouter()


@router.get("/healthz", responses=problem_openapi(503))
async def healthz(rt: RuntimeDep) -> Response:
    """Liveness: fails when the consumer has lag but fetched nothing for too long. Open."""
    alive, description = rt.live()
    if not alive:
        return problem_response(ProblemError(503, description, slug="consumer-stalled"))
    return JSONResponse({"status": "ok"})


@router.get("/readyz", responses=problem_openapi(503))
async def readyz(rt: RuntimeDep) -> Response:
    """Readiness: the database answers and the consumer and relay are connected. Open."""
    ready = await rt.ready()
    checks = {name: "ok" if ok else _not_ready(rt, name) for name, ok in ready.items()}
    if all(ready.values()):
        return JSONResponse({"status": "ready", "checks": checks})
    return problem_response(
        ProblemError(
            503,
            "not ready: " + ", ".join(f"{k} {v}" for k, v in checks.items() if v != "ok"),
            extra={"checks": checks},
            headers={"Retry-After": str(rt.settings.retry_after_s)},
        )
    )


@router.get("/metrics", include_in_schema=False, dependencies=[KeyRequired])
async def prometheus(rt: RuntimeDep) -> Response:
    return Response(generate_latest(rt.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _not_ready(rt: Runtime, name: str) -> str:
    task = rt.tasks.get(name)
    if task is not None and task.done():
        return "stopped"
    return "unavailable" if name == "database" else "not connected to Kafka"
