"""Child processes of the runner: started in their own session, tracked, stopped for sure."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from newsflow_schema.procs import alive

# Every process the runner starts carries this variable, naming its state directory, so
# `down` can find them through /proc even when the runner died before writing a pid file.
STATE_ENV = "NEWSFLOW_LOCAL_STATE"


class StartupError(RuntimeError):
    """A component did not come up; the message says where its log is."""


@dataclass(frozen=True, slots=True)
class Proc:
    name: str
    pid: int
    log: Path


def pid_dir(state: Path) -> Path:
    return state / "run"


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    state: Path,
    env: Mapping[str, str] | None = None,
    user: str | None = None,
    cwd: Path | None = None,
) -> Proc:
    """Start `argv` detached (own session, output to a log file) and record its pid."""
    logs = state / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    full_env = dict(os.environ if env is None else env)
    full_env[STATE_ENV] = str(state.resolve())
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
            user=user,
            group=_group_of(user),
            extra_groups=[] if user else None,
        )
    pid_dir(state).mkdir(parents=True, exist_ok=True)
    (pid_dir(state) / f"{name}.json").write_text(json.dumps({"pid": proc.pid, "argv": list(argv)}))
    return Proc(name=name, pid=proc.pid, log=log)


def _group_of(user: str | None) -> int | None:
    if user is None:
        return None
    import pwd

    return pwd.getpwnam(user).pw_gid


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _carries_state(pid: int, state: Path) -> bool:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return f"{STATE_ENV}={state.resolve()}".encode() in environ.split(b"\0")


def tracked_pids(state: Path) -> list[int]:
    """Live processes started for `state`: from /proc, pid files or not."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            pid = int(entry.name)
            if _carries_state(pid, state) and alive(pid):
                pids.append(pid)
    return pids


def log_tail(log: Path, *, lines: int = 20) -> str:
    """The last `lines` lines of `log` (empty if it is missing), for startup errors.

    The log's directory may be gone by the time someone reads the error (a test's stack is
    destroyed on failure), so the reason a process exited travels in the message itself.
    """
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def wait_until(
    what: str,
    check: Callable[[], bool],
    *,
    timeout: float,
    log: Path | None = None,
    pid: int | None = None,
    interval: float = 0.2,
) -> None:
    """Poll `check` until it is true; StartupError after `timeout` or if `pid` dies."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if pid is not None and not alive(pid):
            if log is None:
                raise StartupError(f"{what}: the process exited")
            raise StartupError(f"{what}: the process exited; see {log}:\n{log_tail(log)}")
        if time.monotonic() > deadline:
            hint = f"; see {log}" if log else ""
            raise StartupError(f"{what}: not ready after {timeout:.0f} s{hint}")
        time.sleep(interval)


def stop_pid(pid: int, *, sig: signal.Signals = signal.SIGTERM, grace: float = 20.0) -> None:
    """Signal the process group of `pid`, wait for it, then SIGKILL what is left."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)
    deadline = time.monotonic() + grace
    while alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.1)
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        while alive(pid):
            _reap(pid)
            time.sleep(0.05)
    _reap(pid)


def recorded_pid(state: Path, name: str) -> int | None:
    """The pid `spawn` recorded for the component `name` of `state` (it may have exited)."""
    pidfile = pid_dir(state) / f"{name}.json"
    if not pidfile.exists():
        return None
    return int(json.loads(pidfile.read_text())["pid"])


def running(state: Path, name: str) -> bool:
    pid = recorded_pid(state, name)
    return pid is not None and alive(pid) and _carries_state(pid, state)


def stop(
    state: Path, name: str, *, sig: signal.Signals = signal.SIGTERM, grace: float = 20.0
) -> bool:
    """Stop the component `name` started for `state`; False if it was not running."""
    pid = recorded_pid(state, name)
    if pid is None:
        return False
    was_running = alive(pid) and _carries_state(pid, state)
    if was_running:
        stop_pid(pid, sig=sig, grace=grace)
    (pid_dir(state) / f"{name}.json").unlink(missing_ok=True)
    return was_running


def kill_all(state: Path, *, grace: float = 20.0) -> list[int]:
    """Stop every process of `state`, tracked or stray. Returns the pids that were running."""
    found = tracked_pids(state)
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(alive(p) for p in found) and time.monotonic() < deadline:
        for p in found:
            _reap(p)
        time.sleep(0.1)
    for pid in found:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _reap(pid)
    for pidfile in pid_dir(state).glob("*.json"):
        pidfile.unlink()
    return found
