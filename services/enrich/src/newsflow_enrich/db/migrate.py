"""Schema migrations: `alembic upgrade head` (and downgrade) from code, for the CLI and tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for enrich's migrations; `url` (async SQLAlchemy URL) or DATABASE_URL."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        # ConfigParser interpolates '%', which URL-encoded passwords contain.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _in_thread(work: Callable[[], None]) -> None:
    # env.py drives asyncpg with asyncio.run(), which refuses to start inside a running
    # loop (an async test fixture, say); a thread of our own always has no loop.
    errors: list[BaseException] = []

    def target() -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread below
            errors.append(exc)

    thread = threading.Thread(target=target, name="alembic")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Migrate the database at `url` (default DATABASE_URL) up to `revision`."""
    config = alembic_config(url)
    _in_thread(lambda: command.upgrade(config, revision))


def downgrade(url: str | None = None, revision: str = "base") -> None:
    """Migrate the database at `url` (default DATABASE_URL) down to `revision`."""
    config = alembic_config(url)
    _in_thread(lambda: command.downgrade(config, revision))
