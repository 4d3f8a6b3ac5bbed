"""deploy/k8s is valid Kubernetes and gives each service its image, env, ports and probes."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from pydantic_settings import BaseSettings

from newsflow_enrich.settings import Settings as EnrichSettings
from newsflow_ingest.settings import Settings as IngestSettings
from newsflow_local.kafka import DEFAULT_PARTITIONS

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
KUSTOMIZATION = K8S / "kustomization.yaml"
SECRET_EXAMPLE = K8S / "secret.example.yaml"
IMAGE = "newsflow:local"
UID = 10001
# The oldest Kubernetes we claim to run on, and the newest schemas the validator bundles.
K8S_VERSIONS = ("1.29", kubernetes_validate.latest_version())

Manifest = dict[str, Any]
SERVICES: dict[str, type[BaseSettings]] = {"ingest": IngestSettings, "enrich": EnrichSettings}


def load(path: Path) -> list[Manifest]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert all(isinstance(d, dict) for d in docs), path
    return docs


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p != KUSTOMIZATION)


def applied_files() -> list[Path]:
    return [p for p in manifest_files() if p != SECRET_EXAMPLE]


def manifests() -> list[Manifest]:
    return [doc for path in applied_files() for doc in load(path)]


def find(kind: str, name: str) -> Manifest:
    matches = [m for m in manifests() if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def pod_templates() -> Iterator[tuple[str, Manifest]]:
    for m in manifests():
        if m["kind"] in ("Deployment", "Job"):
            yield f"{m['kind']}/{m['metadata']['name']}", m["spec"]["template"]


def containers() -> Iterator[tuple[str, Manifest]]:
    for where, template in pod_templates():
        for c in template["spec"].get("initContainers", []) + template["spec"]["containers"]:
            yield f"{where}/{c['name']}", c


def service_container(service: str) -> Manifest:
    spec = find("Deployment", f"newsflow-{service}")["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert isinstance(container, dict)
    return container


def env_names(settings: type[BaseSettings]) -> dict[str, set[str]]:
    """Field name → the environment variable names that set it."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names: dict[str, set[str]] = {}
    for name, field in settings.model_fields.items():
        choices = getattr(field.validation_alias, "choices", None)
        if choices is not None:
            names[name] = {str(c).upper() for c in choices}
        elif isinstance(field.validation_alias, str):
            names[name] = {field.validation_alias.upper()}
        else:
            names[name] = {f"{prefix}{name}".upper()}
    return names


def resolve_env(container: Manifest) -> dict[str, str | None]:
    """Each env var → its value (literal, ConfigMap or example Secret); None for a fieldRef."""
    secret = load(SECRET_EXAMPLE)[0]["stringData"]
    values: dict[str, str | None] = {}
    for var in container.get("env", []):
        source = var.get("valueFrom")
        if source is None:
            values[var["name"]] = str(var["value"])
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            values[var["name"]] = str(find("ConfigMap", ref["name"])["data"][ref["key"]])
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            assert ref["name"] == "newsflow-secrets", var
            values[var["name"]] = str(secret[ref["key"]])
        else:
            assert "fieldRef" in source, var
            values[var["name"]] = None
    return values


def cpu_millis(quantity: str) -> int:
    if quantity.endswith("m"):
        return int(quantity[:-1])
    return int(float(quantity) * 1000)


def port_number(container: Manifest, port: int | str) -> int:
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container["ports"] if p["name"] == port]
    assert isinstance(number, int)
    return number


def console_scripts() -> set[str]:
    scripts: set[str] = set()
    for pyproject in [
        *REPO.glob("services/*/pyproject.toml"),
        REPO / "deploy/local/pyproject.toml",
    ]:
        scripts |= set(tomllib.loads(pyproject.read_text())["project"].get("scripts", {}))
    return scripts


# --- schema validation -----------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: p.name)
def test_manifest_is_valid_kubernetes(path: Path, version: str) -> None:
    # Strict schemas reject unknown fields, so a misspelt or misplaced key fails here.
    for doc in load(path):
        kubernetes_validate.validate(doc, version, strict=True)


def test_validator_rejects_a_misplaced_field() -> None:
    # Guards the test above against a validator that accepts anything.
    deployment = find("Deployment", "newsflow-enrich")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"path": "/x"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)


def test_kustomization_applies_every_manifest_but_the_secret_example() -> None:
    kustomization = load(KUSTOMIZATION)[0]
    assert sorted(kustomization["resources"]) == sorted(p.name for p in applied_files())
    assert kustomization["namespace"] == find("Namespace", "newsflow")["metadata"]["name"]
    assert {"name": "newsflow", "newName": "newsflow", "newTag": "local"} in kustomization["images"]


def test_kustomize_build_renders_valid_objects() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with its built-in kustomize) is not installed")
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    rendered = [d for d in yaml.safe_load_all(result.stdout) if d is not None]
    assert len(rendered) == len(manifests())
    for doc in rendered:
        kubernetes_validate.validate(doc, K8S_VERSIONS[-1], strict=True)
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "newsflow", doc["metadata"]


# --- what the services rely on ---------------------------------------------------------


def test_every_container_runs_the_image_through_a_declared_console_script() -> None:
    scripts = console_scripts()
    for where, c in containers():
        assert c["image"] == IMAGE, where
        assert c["imagePullPolicy"] == "IfNotPresent", where
        assert c["command"][0] in scripts, f"{where}: {c['command'][0]} is no console script"


def test_commands() -> None:
    assert service_container("ingest")["command"] == ["newsflow-ingest"]
    assert service_container("enrich")["command"] == ["newsflow-enrich"]
    migrate = find("Job", "newsflow-migrate")["spec"]["template"]["spec"]["containers"][0]
    assert migrate["command"] == ["newsflow-enrich", "migrate"]
    assert "DATABASE_URL" in resolve_env(migrate)
    topics = find("Job", "newsflow-topics")["spec"]["template"]["spec"]["containers"][0]
    # $(VAR) is expanded by Kubernetes only for variables defined in the container's env.
    assert topics["command"] == [
        "newsflow-local",
        "topics",
        "--bootstrap",
        "$(KAFKA_BOOTSTRAP_SERVERS)",
    ]
    assert "KAFKA_BOOTSTRAP_SERVERS" in resolve_env(topics)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_address_the_service_reads_is_set(service: str) -> None:
    # Defaults point at 127.0.0.1, which inside a pod is the pod itself.
    settings = SERVICES[service]
    env = resolve_env(service_container(service))
    for field_name, names in env_names(settings).items():
        default = settings.model_fields[field_name].default
        if isinstance(default, str) and ("127.0.0.1" in default or "localhost" in default):
            given = names & env.keys()
            assert given, f"{service}: the manifest sets none of {sorted(names)}"
            for name in given:
                value = env[name]
                assert value is not None, f"{service}: {name}"
                assert "127.0.0.1" not in value and "localhost" not in value, (service, name)
    assert env.get(f"{service.upper()}_HOST") == "0.0.0.0"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_variable_the_manifest_sets_is_read(service: str) -> None:
    known = set().union(*env_names(SERVICES[service]).values())
    unknown = set(resolve_env(service_container(service))) - known
    assert not unknown, f"{service}: variables the service never reads: {unknown}"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_variable_parses_into_settings(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = resolve_env(service_container(service))
    for name, value in env.items():
        monkeypatch.setenv(name, value if value is not None else f"newsflow-{service}-7d9f-x2")
    settings = SERVICES[service]()
    assert settings.model_dump()["host"] == "0.0.0.0"
    assert settings.model_dump()["port"] == int(env[f"{service.upper()}_PORT"] or "")


def test_secrets_stay_in_the_secret() -> None:
    for service, key in (("enrich", "DATABASE_URL"), ("ingest", "INGEST_API_KEYS")):
        (var,) = [v for v in service_container(service)["env"] if v["name"] == key]
        assert var["valueFrom"]["secretKeyRef"] == {"name": "newsflow-secrets", "key": key}
    for m in manifests():
        assert m["kind"] != "Secret", "a Secret with a password must not be applied from git"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_ports_and_probes(service: str) -> None:
    container = service_container(service)
    port = int(resolve_env(container)[f"{service.upper()}_PORT"] or "")
    assert port == SERVICES[service].model_fields["port"].default
    assert port_number(container, "http") == port
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = container[probe]["httpGet"]
        assert get["path"] == path, (service, probe)
        assert port_number(container, get["port"]) == port, (service, probe)
    # /readyz bounds its own checks at 2 s; the probe must wait longer than that.
    assert container["readinessProbe"]["timeoutSeconds"] > 2

    svc = find("Service", f"newsflow-{service}")
    (svc_port,) = svc["spec"]["ports"]
    assert port_number(container, svc_port["targetPort"]) == port
    deployment = find("Deployment", f"newsflow-{service}")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_enrich_survives_its_model_load() -> None:
    container = service_container("enrich")
    startup = container["startupProbe"]
    assert startup["httpGet"]["path"] == "/healthz"
    assert port_number(container, startup["httpGet"]["port"]) == 8001
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60


def test_enrich_cpu_request_covers_its_workers() -> None:
    container = service_container("enrich")
    workers = int(resolve_env(container)["ENRICH_WORKERS"] or "")
    assert cpu_millis(container["resources"]["requests"]["cpu"]) >= 1000 * workers


def test_every_enrich_replica_joins_one_group() -> None:
    group = [v for v in service_container("enrich")["env"] if v["name"] == "ENRICH_GROUP_ID"]
    # A literal: a per-pod value (fieldRef) would give each replica a group of its own.
    default = EnrichSettings.model_fields["group_id"].default
    assert group == [{"name": "ENRICH_GROUP_ID", "value": default}]


def test_hpa_scales_enrich_on_cpu_up_to_the_partition_count() -> None:
    hpa = find("HorizontalPodAutoscaler", "newsflow-enrich")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
    find("Deployment", target["name"])
    assert target["name"] == "newsflow-enrich"
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] <= DEFAULT_PARTITIONS
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    # A replica count in the Deployment would fight the HPA on every apply.
    assert "replicas" not in find("Deployment", "newsflow-enrich")["spec"]


def test_every_deployment_has_a_disruption_budget() -> None:
    budgets = [m for m in manifests() if m["kind"] == "PodDisruptionBudget"]
    for m in manifests():
        if m["kind"] != "Deployment":
            continue
        labels = m["spec"]["template"]["metadata"]["labels"]
        covering = [
            b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(covering) == 1, m["metadata"]["name"]


def test_every_container_has_requests_and_limits() -> None:
    for where, c in containers():
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= c["resources"][kind].keys(), (where, kind)
        assert cpu_millis(c["resources"]["limits"]["cpu"]) >= cpu_millis(
            c["resources"]["requests"]["cpu"]
        ), where


def test_pods_run_unprivileged_on_a_read_only_root() -> None:
    for where, template in pod_templates():
        spec = template["spec"]
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, where
        assert pod["runAsUser"] == UID and pod["runAsGroup"] == UID, where
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert spec["automountServiceAccountToken"] is False, where
        scratch = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        for c in spec["containers"]:
            ctx = c["securityContext"]
            assert ctx["readOnlyRootFilesystem"] is True, where
            assert ctx["allowPrivilegeEscalation"] is False, where
            assert ctx["capabilities"]["drop"] == ["ALL"], where
            tmp = [m for m in c["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert len(tmp) == 1 and tmp[0]["name"] in scratch, f"{where}: /tmp is no emptyDir"


def test_uid_matches_the_image() -> None:
    dockerfile = (REPO / "deploy" / "docker" / "Dockerfile").read_text()
    assert re.search(rf"--uid {UID}\b", dockerfile)


@pytest.mark.parametrize(
    ("service", "grace_var"),
    [("ingest", "INGEST_SHUTDOWN_TIMEOUT_S"), ("enrich", "ENRICH_SHUTDOWN_GRACE_S")],
)
def test_kubernetes_waits_longer_than_the_service_shuts_down(service: str, grace_var: str) -> None:
    spec = find("Deployment", f"newsflow-{service}")["spec"]["template"]["spec"]
    container = service_container(service)
    field = grace_var.removeprefix(f"{service.upper()}_").lower()
    grace = float(
        resolve_env(container).get(grace_var) or SERVICES[service].model_fields[field].default
    )
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    # The drain after preStop can take the grace twice: in-flight work, then the final flush.
    assert spec["terminationGracePeriodSeconds"] > int(pre_stop[1]) + 2 * grace
