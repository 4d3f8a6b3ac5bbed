"""Entry point: `python -m newsflow_ingest` / `newsflow-ingest` runs the API under uvicorn."""

from __future__ import annotations

import logging

import uvicorn

from newsflow_ingest.app import build_app
from newsflow_ingest.settings import Settings


def main() -> None:
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    uvicorn.run(
        build_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=int(settings.shutdown_timeout_s) + 5,
    )


if __name__ == "__main__":
    main()
