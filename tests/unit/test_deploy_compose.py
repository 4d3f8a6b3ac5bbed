"""docker-compose.yml is valid and gives each service every address it reads."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from pydantic_settings import BaseSettings

from newsflow_enrich.settings import Settings as EnrichSettings
from newsflow_ingest.settings import Settings as IngestSettings

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
SERVICES: dict[str, type[BaseSettings]] = {"ingest": IngestSettings, "enrich": EnrichSettings}


def env_names(settings: type[BaseSettings]) -> dict[str, set[str]]:
    """Field name → the environment variable names that set it."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names: dict[str, set[str]] = {}
    for name, field in settings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        if choices is not None:
            names[name] = {str(c).upper() for c in choices}
        elif isinstance(alias, str):
            names[name] = {alias.upper()}
        else:
            names[name] = {f"{prefix}{name}".upper()}
    return names


def compose() -> dict[str, object]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def service_env(name: str) -> dict[str, str]:
    services = compose()["services"]
    assert isinstance(services, dict)
    env = services[name]["environment"]
    assert isinstance(env, dict)
    return {str(k): str(v) for k, v in env.items()}


def test_compose_file_is_valid() -> None:
    if shutil.which("docker-compose"):
        argv = ["docker-compose", "-f", str(COMPOSE), "config", "-q"]
    elif (
        subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        argv = ["docker", "compose", "-f", str(COMPOSE), "config", "-q"]
    else:
        pytest.skip("neither docker-compose nor the docker compose plugin is installed")
    result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=REPO)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_address_the_service_reads_is_set(service: str) -> None:
    # Defaults point at 127.0.0.1, which inside a container is the container itself.
    settings = SERVICES[service]
    env = service_env(service)
    for field_name, names in env_names(settings).items():
        default = settings.model_fields[field_name].default
        if isinstance(default, str) and ("127.0.0.1" in default or "localhost" in default):
            assert names & env.keys(), f"{service}: compose sets none of {sorted(names)}"
    assert env.get(f"{service.upper()}_HOST") == "0.0.0.0"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_variable_compose_sets_is_read(service: str) -> None:
    known = set().union(*env_names(SERVICES[service]).values())
    unknown = set(service_env(service)) - known
    assert not unknown, f"{service}: compose sets variables the service never reads: {unknown}"


def test_services_wait_for_healthy_dependencies() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    assert services["init"]["depends_on"] == {
        "kafka": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }
    for name in SERVICES:
        assert services[name]["depends_on"]["init"]["condition"] == "service_completed_successfully"
    for name in ("kafka", "postgres", *SERVICES):
        assert "healthcheck" in services[name], name
