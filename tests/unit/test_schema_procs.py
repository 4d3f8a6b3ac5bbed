from __future__ import annotations

import os
import subprocess
import sys

from newsflow_schema.procs import alive


def test_a_running_process_is_alive() -> None:
    assert alive(os.getpid())


def test_an_exited_child_is_gone_before_and_after_it_is_reaped() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    # Exited, not reaped: a zombie, as under an init that never reaps.
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
    assert not alive(child.pid)
    child.wait()
    assert not alive(child.pid)
