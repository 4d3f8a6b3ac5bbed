"""Fault scenarios print their A/D/E table at the end of the session."""

from __future__ import annotations

import pytest

from tests.fault.harness import REPORTS, snapshot_dir, summary_table


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not REPORTS:
        return
    table = summary_table()
    terminalreporter.write_sep("=", "fault scenarios: A, D, E")
    terminalreporter.write_line(table)
    out = snapshot_dir()
    out.mkdir(parents=True, exist_ok=True)
    (out / "fault-table.md").write_text(table + "\n")
