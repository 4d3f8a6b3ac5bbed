"""A real PostgreSQL server from the distribution's packages (Debian: postgresql)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from newsflow_local import procs

NAME = "postgres"
USER = "newsflow"


class PostgresNotInstalled(RuntimeError):
    """No PostgreSQL server binaries were found."""


def bin_dir() -> Path:
    """The directory with initdb and postgres: PG_BIN, PATH, or Debian's versioned layout."""
    if env := os.environ.get("PG_BIN"):
        return Path(env)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    for path in reversed(candidates):
        if (Path(path) / "initdb").exists():
            return Path(path)
    if found := shutil.which("initdb"):
        return Path(found).resolve().parent
    raise PostgresNotInstalled(
        "PostgreSQL server not found: install it (Debian/Ubuntu: apt-get install postgresql) "
        "or set PG_BIN to the directory holding initdb and postgres"
    )


def _run_as() -> str | None:
    # PostgreSQL refuses to run as root; run it as an unprivileged account instead.
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise procs.StartupError("running as root and no unprivileged user (postgres, nobody) exists")


@dataclass(frozen=True, slots=True)
class PostgresNode:
    home: Path
    state: Path
    port: int = 5432

    @property
    def data(self) -> Path:
        return self.home / "data"

    def url(self, database: str = "newsflow", *, driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://{USER}:{USER}@127.0.0.1:{self.port}/{database}"

    def _chown(self, path: Path) -> None:
        user = _run_as()
        if user is not None:
            entry = pwd.getpwnam(user)
            for p in [path, *path.rglob("*")]:
                os.chown(p, entry.pw_uid, entry.pw_gid)

    def init(self) -> None:
        if (self.data / "PG_VERSION").exists():
            return
        _check_reachable(self.home)
        self.data.mkdir(parents=True, exist_ok=True)
        self.data.chmod(0o700)
        self._chown(self.home)
        result = subprocess.run(
            [
                str(bin_dir() / "initdb"),
                "-D",
                str(self.data),
                "-U",
                USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8" if _has_c_utf8() else "--no-locale",
            ],
            capture_output=True,
            text=True,
            check=False,
            user=_run_as(),
        )
        if result.returncode != 0:
            raise procs.StartupError(f"initdb failed:\n{result.stdout}{result.stderr}")

    def start(self, *, timeout: float = 60.0) -> None:
        self.init()
        sockets = self.home / "sockets"
        sockets.mkdir(exist_ok=True)
        self._chown(sockets)
        argv = [
            str(bin_dir() / "postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={sockets}",
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=64MB",
            # Durability stays on: the fault tests kill things and must see real commits.
            "-c",
            "fsync=on",
            "-c",
            "synchronous_commit=on",
        ]
        proc = procs.spawn(NAME, argv, state=self.state, user=_run_as())
        procs.wait_until(
            f"postgres on 127.0.0.1:{self.port}",
            self.ready,
            timeout=timeout,
            log=proc.log,
            pid=proc.pid,
        )

    def _client(self, tool: str, database: str, *args: str) -> list[str]:
        """argv of a client tool (pg_isready, psql) connecting to this server as USER."""
        connect = ["-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", database]
        return [str(bin_dir() / tool), *connect, *args]

    def ready(self) -> bool:
        return (
            subprocess.run(self._client("pg_isready", "postgres", "-q"), check=False).returncode
            == 0
        )

    def psql(self, sql: str, *, database: str = "postgres") -> str:
        result = subprocess.run(
            self._client("psql", database, "-v", "ON_ERROR_STOP=1", "-Atqc", sql),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise procs.StartupError(f"psql failed: {sql}\n{result.stderr}")
        return result.stdout

    def create_database(self, name: str) -> None:
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
        if not exists.strip():
            self.psql(f'CREATE DATABASE "{name}"')

    def stop(self, *, hard: bool = False) -> bool:
        # SIGINT is PostgreSQL's "fast" shutdown; SIGKILL is a crash it recovers from on start.
        return procs.stop(self.state, NAME, sig=signal.SIGKILL if hard else signal.SIGINT, grace=30)


def _check_reachable(home: Path) -> None:
    """Fail clearly when the server's account could not reach its own data directory."""
    if _run_as() is None:
        return
    for parent in home.resolve().parents:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            raise procs.StartupError(
                f"PostgreSQL runs as {_run_as()!r} (it refuses root) and cannot enter {parent}; "
                "choose a state directory every user can traverse, such as the default .local/"
            )


def _has_c_utf8() -> bool:
    result = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=False)
    return any(line.lower() in ("c.utf8", "c.utf-8") for line in result.stdout.split())
