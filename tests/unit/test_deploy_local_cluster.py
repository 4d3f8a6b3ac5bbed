"""The local runner's cluster layout: ports, quorum voters and replication per node count."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsflow_local import kafka, procs
from newsflow_local.stack import LocalStack, RunnerSettings, on_free_ports

pytestmark = pytest.mark.unit


def props(node: kafka.KafkaNode) -> dict[str, str]:
    return node._props()


def test_one_node_is_the_default_and_keeps_the_single_broker_layout(tmp_path: Path) -> None:
    stack = LocalStack(state=tmp_path, settings=RunnerSettings())
    (node,) = stack.kafka.nodes
    assert node.name == "kafka" and node.home == tmp_path / "kafka"
    p = props(node)
    assert p["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert p["offsets.topic.replication.factor"] == "1"
    assert p["min.insync.replicas"] == "1"
    assert stack.kafka.replication == kafka.Replication(1, 1)
    assert stack.settings.topic_partitions == kafka.DEFAULT_PARTITIONS == 6


def test_three_nodes_share_one_static_quorum_and_replicate_everything(tmp_path: Path) -> None:
    settings = RunnerSettings(NEWSFLOW_BROKERS=3)
    stack = LocalStack(state=tmp_path, settings=settings)
    assert [n.node_id for n in stack.kafka.nodes] == [1, 2, 3]
    assert [(n.port, n.controller_port) for n in stack.kafka.nodes] == [
        (9092, 9093),
        (9094, 9095),
        (9096, 9097),
    ]
    voters = "1@127.0.0.1:9093,2@127.0.0.1:9095,3@127.0.0.1:9097"
    for node in stack.kafka.nodes:
        p = props(node)
        assert p["controller.quorum.voters"] == voters
        assert p["node.id"] == str(node.node_id)
        assert p["log.dirs"] == str(tmp_path / f"kafka-{node.node_id}" / "data")
        for key in (
            "default.replication.factor",
            "offsets.topic.replication.factor",
            "transaction.state.log.replication.factor",
        ):
            assert p[key] == "3", key
        assert p["min.insync.replicas"] == p["transaction.state.log.min.isr"] == "2"
        assert p["unclean.leader.election.enable"] == "false"
        assert node.cluster_id_file == tmp_path / "kafka-cluster-id"
    assert stack.kafka_bootstrap == "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096"


def test_topic_settings_follow_the_replication() -> None:
    assert kafka.Replication.for_brokers(1) == kafka.Replication(1, 1)
    assert kafka.Replication.for_brokers(3) == kafka.Replication(3, 2)
    configs = kafka.topic_configs(kafka.Replication(3, 2))
    assert configs == {
        "max.message.bytes": str(kafka.MESSAGE_MAX_BYTES),
        "min.insync.replicas": "2",
    }


def test_free_ports_cover_every_node() -> None:
    settings = on_free_ports(brokers=3)
    ports = settings.node_ports()
    assert len(ports) == 3
    flat = [p for pair in ports for p in pair]
    assert len(set(flat)) == 6
    assert ports[0] == (settings.kafka_port, settings.kafka_controller_port)


def test_node_ports_must_name_every_node() -> None:
    settings = RunnerSettings(NEWSFLOW_BROKERS=3, NEWSFLOW_KAFKA_NODE_PORTS="1:2,3:4")
    with pytest.raises(ValueError, match="one broker:controller pair per node"):
        settings.node_ports()


def test_status_and_down_find_the_nodes_a_cluster_recorded(tmp_path: Path) -> None:
    from newsflow_local.__main__ import _parser, _settings
    from newsflow_local.stack import NODES_FILE

    (tmp_path / NODES_FILE).write_text(
        '[{"broker": 1, "controller": 2}, {"broker": 3, "controller": 4}, '
        '{"broker": 5, "controller": 6}]'
    )
    status = _settings(_parser().parse_args(["status"]), tmp_path)
    assert status.brokers == 3
    assert status.node_ports() == [(1, 2), (3, 4), (5, 6)]
    names = list(LocalStack(state=tmp_path, settings=status).running())
    assert names[:4] == ["postgres", "kafka-1", "kafka-2", "kafka-3"]
    # Starting again follows the command line (or the environment), not the record.
    up = _settings(_parser().parse_args(["up", "--brokers", "1"]), tmp_path)
    assert up.brokers == 1 and up.node_ports() == [(9092, 9093)]


def test_topics_refuses_min_insync_without_a_replication_factor() -> None:
    from newsflow_local.__main__ import main

    code = main(["topics", "--bootstrap", "127.0.0.1:1", "--min-insync-replicas", "2"])
    assert code == 2


def test_a_startup_error_carries_the_end_of_the_log(tmp_path: Path) -> None:
    log = tmp_path / "kafka-3.log"
    fatal = "ERROR Exiting Kafka due to fatal exception"
    log.write_text("".join(f"line {i}\n" for i in range(30)) + fatal + "\n")
    assert procs.log_tail(log, lines=3).splitlines() == ["line 28", "line 29", fatal]
    assert procs.log_tail(tmp_path / "gone.log") == ""


def test_a_new_cluster_id_never_reads_as_an_option() -> None:
    ids = {kafka.new_cluster_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert not [i for i in ids if i.startswith("-")]
    assert all(len(i) == 22 for i in ids)
