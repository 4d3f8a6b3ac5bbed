"""The compose `cluster` profile: three KRaft nodes, one quorum, services pointed at all three."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest

from newsflow_local.kafka import (
    CLUSTER_MIN_INSYNC_REPLICAS,
    CLUSTER_REPLICATION_FACTOR,
    DEFAULT_PARTITIONS,
    MESSAGE_MAX_BYTES,
)
from tests.unit.test_deploy_compose import COMPOSE, REPO, SERVICES, compose, env_names

pytestmark = pytest.mark.unit

NODES = ("kafka-1", "kafka-2", "kafka-3")
APPS = {"ingest": "ingest-cluster", "enrich": "enrich-cluster"}


def services() -> dict[str, Any]:
    found = compose()["services"]
    assert isinstance(found, dict)
    return found


def env(name: str) -> dict[str, str]:
    return {str(k): str(v) for k, v in services()[name]["environment"].items()}


def test_cluster_profile_is_valid() -> None:
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed")
    argv = ["docker-compose", "-f", str(COMPOSE), "--profile", "cluster", "config", "-q"]
    result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=REPO)
    assert result.returncode == 0, result.stderr


def test_every_cluster_service_is_in_the_profile_only() -> None:
    for name in (*NODES, "init-cluster", *APPS.values()):
        assert services()[name]["profiles"] == ["cluster"], name
    for name in ("kafka", "postgres", "init", "ingest", "enrich"):
        assert "profiles" not in services()[name], name


def test_nodes_form_one_quorum_with_replicated_topics() -> None:
    nodes = [env(n) for n in NODES]
    voters = {n["KAFKA_CONTROLLER_QUORUM_VOTERS"] for n in nodes}
    assert voters == {"1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"}
    assert len({n["CLUSTER_ID"] for n in nodes}) == 1
    assert [n["KAFKA_NODE_ID"] for n in nodes] == ["1", "2", "3"]
    for name, node in zip(NODES, nodes, strict=True):
        assert services()[name]["hostname"] == name
        assert f"INTERNAL://{name}:19092" in node["KAFKA_ADVERTISED_LISTENERS"]
        assert node["KAFKA_PROCESS_ROLES"] == "broker,controller"
        rf, isr = str(CLUSTER_REPLICATION_FACTOR), str(CLUSTER_MIN_INSYNC_REPLICAS)
        for key in (
            "KAFKA_DEFAULT_REPLICATION_FACTOR",
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
            "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR",
        ):
            assert node[key] == rf, key
        for key in (
            "KAFKA_MIN_INSYNC_REPLICAS",
            "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
            "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR",
        ):
            assert node[key] == isr, key
        assert node["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"] == "false"
        assert node["KAFKA_NUM_PARTITIONS"] == str(DEFAULT_PARTITIONS)
        assert node["KAFKA_MESSAGE_MAX_BYTES"] == str(MESSAGE_MAX_BYTES)
        assert "healthcheck" in services()[name]
    ports = [p for n in NODES for p in services()[n]["ports"]]
    assert len(set(ports)) == 3


def test_services_reach_all_three_nodes_and_wait_for_them() -> None:
    everyone = ",".join(f"{n}:19092" for n in NODES)
    for name in ("init-cluster", *APPS.values()):
        assert env(name)["KAFKA_BOOTSTRAP_SERVERS"] == everyone, name
    depends = services()["init-cluster"]["depends_on"]
    assert {n: depends[n]["condition"] for n in NODES} == dict.fromkeys(NODES, "service_healthy")
    command = " ".join(services()["init-cluster"]["command"])
    assert f"--bootstrap {everyone}" in command
    assert f"--replication-factor {CLUSTER_REPLICATION_FACTOR}" in command
    assert f"--min-insync-replicas {CLUSTER_MIN_INSYNC_REPLICAS}" in command
    for app, name in APPS.items():
        depends = services()[name]["depends_on"]
        assert depends == {"init-cluster": {"condition": "service_completed_successfully"}}
        known = set().union(*env_names(SERVICES[app]).values())
        assert set(env(name)) <= known, f"{name} sets variables {app} never reads"
        assert env(name)[f"{app.upper()}_HOST"] == "0.0.0.0"
        single = set(services()[app]["ports"])
        assert not single & set(services()[name]["ports"]), "host ports clash with the default"
