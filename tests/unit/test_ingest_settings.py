"""Ingest settings from the environment: shared names, INGEST_ prefix, comma-separated keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from newsflow_ingest.settings import Settings, cgroup_cpu_limit, usable_cores

pytestmark = pytest.mark.unit


def test_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker-a:9092,broker-b:9092")
    monkeypatch.setenv("INGEST_HOST", "0.0.0.0")
    monkeypatch.setenv("INGEST_PORT", "8123")
    monkeypatch.setenv("INGEST_API_KEYS", " key-one, key-two ,,")
    monkeypatch.setenv("INGEST_READ_API_BASE_URL", "http://enrich:8001")
    monkeypatch.setenv("INGEST_MAX_BATCH_ITEMS", "7")

    settings = Settings(_env_file=None)

    assert settings.kafka_bootstrap_servers == "broker-a:9092,broker-b:9092"
    assert (settings.host, settings.port) == ("0.0.0.0", 8123)
    assert settings.api_keys == ("key-one", "key-two")
    assert settings.read_api_base_url == "http://enrich:8001"
    assert settings.max_batch_items == 7
    assert "key-one" not in repr(settings)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "INGEST_HOST", "INGEST_PORT", "INGEST_API_KEYS"):
        monkeypatch.delenv(name, raising=False)

    settings = Settings(_env_file=None)

    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.api_keys == ()
    assert settings.publish_timeout_s == 15.0


@pytest.mark.parametrize("blank", [" , ", ",", " ,, ,"])
def test_api_keys_set_without_a_usable_key_refuse_to_start(
    monkeypatch: pytest.MonkeyPatch, blank: str
) -> None:
    from newsflow_ingest.__main__ import _settings

    monkeypatch.setenv("INGEST_API_KEYS", blank)
    with pytest.raises(ValidationError, match="no usable key"):
        Settings(_env_file=None)
    with pytest.raises(SystemExit) as stopped:
        _settings()
    assert "INGEST_API_KEYS is set but holds no usable key" in str(stopped.value.code)


def test_empty_api_keys_variable_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGEST_API_KEYS", "")
    assert Settings(_env_file=None).api_keys == ()


def test_normalise_processes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGEST_NORMALISE_PROCESSES", "3")
    assert Settings(_env_file=None).normalise_pool_size == 3
    monkeypatch.setenv("INGEST_NORMALISE_PROCESSES", "0")
    assert Settings(_env_file=None).normalise_pool_size == 0
    monkeypatch.setenv("INGEST_NORMALISE_PROCESSES", "-1")
    with pytest.raises(ValidationError, match="normalise_processes"):
        Settings(_env_file=None)


def test_normalise_processes_default_shares_the_cores_between_server_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("INGEST_NORMALISE_PROCESSES", raising=False)
    monkeypatch.delenv("INGEST_WORKERS", raising=False)
    # The default is threads; None (not settable from the environment) shares the cores.
    assert Settings(_env_file=None).normalise_pool_size == 0
    cores = usable_cores()
    assert Settings(_env_file=None, normalise_processes=None).normalise_pool_size == cores
    auto = {"_env_file": None, "normalise_processes": None}
    assert Settings(**auto, workers=2).normalise_pool_size == max(1, cores // 2)
    assert Settings(**auto, workers=cores + 1).normalise_pool_size == 1


@pytest.mark.parametrize(
    ("membership", "files", "limit"),
    [
        ("0::/pod/ingest\n", {"pod/ingest/cpu.max": "150000 100000\n"}, 1.5),
        ("0::/\n", {"cpu.max": "max 100000\n"}, None),
        (
            "4:memory:/x\n3:cpu,cpuacct:/docker/abc\n",
            {
                "cpu/docker/abc/cpu.cfs_quota_us": "200000\n",
                "cpu/docker/abc/cpu.cfs_period_us": "100000\n",
            },
            2.0,
        ),
        (
            "3:cpu,cpuacct:/\n",
            {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"},
            None,
        ),
        ("0::/gone\n", {}, None),
        ("garbage\n", {}, None),
    ],
)
def test_cgroup_cpu_limit(
    tmp_path: Path, membership: str, files: dict[str, str], limit: float | None
) -> None:
    (tmp_path / "cgroup").write_text(membership)
    root = tmp_path / "fs"
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    assert cgroup_cpu_limit(tmp_path / "cgroup", root) == limit
    assert cgroup_cpu_limit(tmp_path / "missing", root) is None
