"""Fault scenarios: the broker and database they run on, and the A/D/E/F table at the end."""

from __future__ import annotations

import pytest

from tests.fault.harness import REPORTS, snapshot_dir, summary_table
from tests.infra import Infra


@pytest.fixture(scope="session")
def infra(_infra: Infra) -> Infra:
    """The broker and database, ours or external (KAFKA_BOOTSTRAP_SERVERS/DATABASE_URL).

    Most scenarios kill and restart only our own services, so they run against external
    ones too; the scenarios that stop Kafka or PostgreSQL ask for `owned_infra`.
    """
    return _infra


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not REPORTS:
        return
    table = summary_table()
    terminalreporter.write_sep("=", "fault scenarios: A, D, E, F")
    terminalreporter.write_line(table)
    out = snapshot_dir()
    out.mkdir(parents=True, exist_ok=True)
    (out / "fault-table.md").write_text(table + "\n")
