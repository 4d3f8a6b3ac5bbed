"""Command line: serve the API, consumer and relay; or `migrate` the database."""

from __future__ import annotations

import argparse

from newsflow_enrich.settings import Settings
from newsflow_schema import logs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="newsflow-enrich", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the read API, the consumer and the outbox relay (default)")
    migrate = sub.add_parser("migrate", help="run `alembic upgrade` against DATABASE_URL")
    migrate.add_argument("revision", nargs="?", default="head")
    down = sub.add_parser("downgrade", help="run `alembic downgrade` against DATABASE_URL")
    down.add_argument("revision", nargs="?", default="base")
    args = parser.parse_args(argv)

    settings = Settings()
    logs.configure("enrich", settings.log_level, json_lines=settings.log_format == "json")
    if args.command == "migrate":
        from newsflow_enrich.db.migrate import upgrade

        upgrade(settings.database_url, args.revision)
        return 0
    if args.command == "downgrade":
        from newsflow_enrich.db.migrate import downgrade

        downgrade(settings.database_url, args.revision)
        return 0

    import uvicorn

    from newsflow_enrich.app import build_app

    uvicorn.run(
        build_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=None,
        access_log=False,
        # SIGTERM → lifespan shutdown, which stops the consumer and flushes the relay.
        timeout_graceful_shutdown=30,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
