"""The no-Docker runner starts real servers; `down` leaves nothing behind, even after a crash."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsflow_local.paths import cache_dir, local_dir
from newsflow_local.procs import kill_all, tracked_pids
from newsflow_local.stack import free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("java") is None, reason="the local runner needs Java 17"),
]


def runner(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "NEWSFLOW_CACHE_DIR": str(cache_dir()),
        "NEWSFLOW_KAFKA_PORT": str(free_port()),
        "NEWSFLOW_KAFKA_CONTROLLER_PORT": str(free_port()),
        "NEWSFLOW_POSTGRES_PORT": str(free_port()),
    }
    return subprocess.run(
        [sys.executable, "-m", "newsflow_local", "--state", str(state), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def state() -> Iterator[Path]:
    # Not pytest's tmp_path: PostgreSQL runs as another user and must be able to enter it.
    path = local_dir() / f"test-runner-{uuid.uuid4().hex[:8]}"
    yield path
    kill_all(path)
    shutil.rmtree(path, ignore_errors=True)


def test_infra_starts_and_down_stops_everything_even_without_pid_files(state: Path) -> None:
    started = runner(state, "infra")
    assert started.returncode == 0, started.stdout + started.stderr
    assert "kafka" in started.stdout and "postgres" in started.stdout
    status = runner(state, "status")
    assert "postgres  running" in status.stdout and "kafka     running" in status.stdout
    assert tracked_pids(state)

    # A runner that crashed may leave no pid files; `down` must still find its processes.
    for pidfile in (state / "run").glob("*.json"):
        pidfile.unlink()
    stopped = runner(state, "down")
    assert stopped.returncode == 0, stopped.stderr
    assert tracked_pids(state) == []


def test_second_start_reuses_the_jar_cache(tmp_path: Path) -> None:
    jars = runner(tmp_path, "jars")
    assert jars.returncode == 0, jars.stderr
    again = runner(tmp_path, "jars")
    assert again.returncode == 0
    assert "fetching" not in again.stdout + again.stderr
    assert again.stdout.strip() == jars.stdout.strip()
    assert any(Path(again.stdout.strip()).glob("kafka_2.13-*.jar"))
