"""A three-node Kafka cluster and PostgreSQL for the cluster scenarios; their table at the end."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.cluster import ROWS, ClusterInfra, cluster_infra, table

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(scope="session")
def cluster() -> Iterator[ClusterInfra]:
    if shutil.which("java") is None:
        pytest.skip("the local runner needs Java 17 for the Kafka cluster")
    with cluster_infra() as infra:
        yield infra


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not ROWS:
        return
    text = table()
    terminalreporter.write_sep("=", "cluster scenarios (3 KRaft nodes, RF 3, min ISR 2)")
    terminalreporter.write_line(text)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "cluster-table.md").write_text(text + "\n")
