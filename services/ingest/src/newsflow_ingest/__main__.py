"""Entry point: `python -m newsflow_ingest` / `newsflow-ingest` runs the API under uvicorn."""

from __future__ import annotations

import uvicorn

from newsflow_ingest.app import build_app
from newsflow_ingest.settings import Settings
from newsflow_schema import logs


def main() -> None:
    settings = Settings()
    logs.configure("ingest", settings.log_level, json_lines=settings.log_format == "json")
    uvicorn.run(
        build_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        # Our JSON lines, with one line per request from TraceMiddleware instead of access logs.
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_timeout_s) + 5,
    )


if __name__ == "__main__":
    main()
