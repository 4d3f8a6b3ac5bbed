"""Entry point: `python -m newsflow_ingest` / `newsflow-ingest` runs the API under uvicorn."""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from newsflow_ingest.app import build_app
from newsflow_ingest.settings import Settings
from newsflow_schema import logs


def _settings() -> Settings:
    """The settings from the environment; a misconfiguration stops start-up with its reason."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: "
            f"{str(e['msg']).removeprefix('Value error, ')}"
            for e in exc.errors(include_url=False)
        )
        sys.exit(f"newsflow-ingest: invalid settings: {problems}")


def _configure_logs(settings: Settings) -> None:
    logs.configure("ingest", settings.log_level, json_lines=settings.log_format == "json")


def create_app() -> FastAPI:
    """The app of one worker process (INGEST_WORKERS > 1): settings from the environment."""
    settings = _settings()
    _configure_logs(settings)
    return build_app(settings)


def main() -> None:
    settings = _settings()
    _configure_logs(settings)
    options = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.lower(),
        # Our JSON lines, with one line per request from TraceMiddleware, not access logs.
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": int(settings.shutdown_timeout_s) + 5,
    }
    if settings.workers > 1:
        # Several server processes also spread the HTTP and Kafka side over the cores;
        # each has its own normalisation workers (INGEST_NORMALISE_PROCESSES).
        uvicorn.run(
            "newsflow_ingest.__main__:create_app",
            factory=True,
            workers=settings.workers,
            **options,  # type: ignore[arg-type]
        )
    else:
        uvicorn.run(build_app(settings), **options)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
