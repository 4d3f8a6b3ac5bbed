"""The dashboard and scrape config refer to metrics and targets the services really have."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from newsflow_enrich.metrics import Metrics as EnrichMetrics
from newsflow_ingest.metrics import Metrics as IngestMetrics

pytestmark = pytest.mark.unit

OBS = Path(__file__).resolve().parents[2] / "deploy" / "observability"


# The series each metric type exposes (labelled metrics have no samples until used).
SERIES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("_count", "_sum"),
    "gauge": ("",),
}


def exported_names(registry: CollectorRegistry) -> set[str]:
    return {
        family.name + suffix
        for family in registry.collect()
        for suffix in SERIES.get(family.type, ("",))
    }


def service_metric_names() -> set[str]:
    names: set[str] = set()
    for metrics in (IngestMetrics(), EnrichMetrics()):
        names |= exported_names(metrics.registry)
    return names


def dashboard_exprs() -> list[str]:
    dashboard = json.loads((OBS / "grafana" / "dashboards" / "newsflow.json").read_text())
    return [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]


def test_every_dashboard_query_uses_an_existing_metric() -> None:
    known = service_metric_names()
    used = {m for expr in dashboard_exprs() for m in re.findall(r"\b(?:ingest|enrich)_\w+", expr)}
    assert used, "the dashboard queries no newsflow metric"
    missing = {name for name in used if name not in known}
    assert not missing, f"dashboard uses metrics no service exports: {sorted(missing)}"


def test_dashboard_covers_both_services() -> None:
    exprs = " ".join(dashboard_exprs())
    assert "ingest_" in exprs and "enrich_" in exprs


def test_prometheus_scrapes_both_services_on_their_compose_ports() -> None:
    config = yaml.safe_load((OBS / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }
    compose = yaml.safe_load((OBS.parents[1] / "docker-compose.yml").read_text())["services"]
    for service in ("ingest", "enrich"):
        port = compose[service]["environment"][f"{service.upper()}_PORT"]
        assert targets[service] == [f"{service}:{port}"]
        assert compose["prometheus"]["profiles"] == ["observability"]
