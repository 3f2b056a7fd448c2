"""Every overlay, alone and with the monitoring component, as `kubectl kustomize` renders it:
valid for Kubernetes, running every Procfile process with its command and settings, hardened,
and upgraded and stopped without dropping what it serves. One render per variant a session;
skipped, saying why, only where no kubectl can be had (`tools/kubectl.py` installs one)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from services.kit.grpc_server import SHUTDOWN_GRACE_SECONDS
from tests.unit.test_deployment import (
    KUBERNETES_VERSION,
    OWN_SETTINGS,
    ROOT,
    SECRET_NAME,
    Manifest,
    container_argv,
    documented_secret_keys,
    expected_settings,
    procfile,
    procfile_argv,
)
from tests.unit.test_k8s_custom_resources import CUSTOM_SCHEMAS, validate_custom_resource

OVERLAYS = {
    "local": ROOT / "k8s" / "overlays" / "local",
    "production": ROOT / "k8s" / "overlays" / "production",
}
MONITORING = ROOT / "k8s" / "components" / "monitoring"
VARIANTS = [*OVERLAYS, *(f"{overlay}+monitoring" for overlay in OVERLAYS)]
NAMESPACE = "gantry"
WORKLOAD_KINDS = {"Deployment", "Job", "CronJob"}
PRESTOP_SECONDS = 5
# The gateway's uvicorn waits as long for requests in flight (services/gateway/__main__.py).
DRAIN_SECONDS = SHUTDOWN_GRACE_SECONDS
KUBERNETES_GRACE_SECONDS = 30
OPERATIONS = ROOT / "docs" / "operations.md"


def kubectl() -> str | None:
    """The kubectl `make test` installed into the virtual environment, else one on PATH."""
    installed = ROOT / ".venv" / "bin" / "kubectl"
    return str(installed) if installed.exists() else shutil.which("kubectl")


def kustomize(directory: Path) -> list[Manifest]:
    binary = kubectl()
    if binary is None:
        pytest.skip("no kubectl: tools/kubectl.py (run by `make test`) could not install one here")
    built = subprocess.run([binary, "kustomize", str(directory)], capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc]


def with_component(overlay: Path, directory: Path) -> None:
    """A kustomization as k8s/README.md tells operators to write one: the overlay plus the
    monitoring component (kustomize takes only relative paths to other kustomizations)."""
    config = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(overlay, directory)],
        "components": [os.path.relpath(MONITORING, directory)],
    }
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(config))


@cache
def rendered(variant: str) -> tuple[Manifest, ...]:
    overlay, _, component = variant.partition("+")
    if not component:
        return tuple(kustomize(OVERLAYS[overlay]))
    with tempfile.TemporaryDirectory() as scratch:
        with_component(OVERLAYS[overlay], Path(scratch))
        return tuple(kustomize(Path(scratch)))


def of_kind(variant: str, kind: str) -> dict[str, Manifest]:
    return {doc["metadata"]["name"]: doc for doc in rendered(variant) if doc["kind"] == kind}


def pod_template(workload: Manifest) -> dict[str, Any]:
    if workload["kind"] == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]
    return workload["spec"]["template"]


def workloads(variant: str) -> list[Manifest]:
    return [doc for doc in rendered(variant) if doc["kind"] in WORKLOAD_KINDS]


def all_containers(workload: Manifest) -> Iterator[dict[str, Any]]:
    spec = pod_template(workload)["spec"]
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def main_container(workload: Manifest) -> dict[str, Any]:
    return pod_template(workload)["spec"]["containers"][0]


def is_gantry(doc: Manifest) -> bool:
    return doc["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") == "gantry"


def settings_of(variant: str, container: dict[str, Any]) -> set[str]:
    """The GANTRY_* settings a container gets: its ConfigMaps' and Secrets' keys (those of a
    Secret the overlay does not hold as documented in k8s/README.md) and its own env."""
    config_maps, secrets = of_kind(variant, "ConfigMap"), of_kind(variant, "Secret")
    names = {entry["name"] for entry in container.get("env", [])}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            names |= set(config_maps[source["configMapRef"]["name"]]["data"])
        else:
            name = source["secretRef"]["name"]
            secret = secrets.get(name)
            names |= set(secret.get("data", {})) if secret else documented_secret_keys(name)
    return {name for name in names if name.startswith("GANTRY_")}


def replica_ceiling(variant: str, deployment: Manifest) -> int:
    """The most pods a Deployment may run: its replicas, or its autoscaler's maximum."""
    name = deployment["metadata"]["name"]
    hpa = of_kind(variant, "HorizontalPodAutoscaler").get(name)
    scaled = of_kind(variant, "ScaledObject").get(name)
    if hpa:
        return hpa["spec"]["maxReplicas"]
    if scaled:
        return scaled["spec"]["maxReplicaCount"]
    return deployment["spec"].get("replicas", 1)


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return selector.get("matchLabels", {}).items() <= labels.items()


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_manifest_is_valid_for_kubernetes_or_its_operator(variant: str) -> None:
    for doc in rendered(variant):
        if (doc["apiVersion"], doc["kind"]) in CUSTOM_SCHEMAS:
            validate_custom_resource(doc)
        else:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("variant", VARIANTS)
def test_everything_is_in_the_gantry_namespace_which_enforces_the_restricted_standard(variant: str) -> None:
    namespaced = [doc for doc in rendered(variant) if doc["kind"] != "Namespace"]
    assert {doc["metadata"].get("namespace") for doc in namespaced} == {NAMESPACE}
    labels = of_kind(variant, "Namespace")[NAMESPACE]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("process", procfile())
def test_every_procfile_process_runs_with_its_command_and_every_setting(variant: str, process: str) -> None:
    container = main_container(of_kind(variant, "Deployment")[process])
    assert container_argv(container) == procfile_argv(process)
    # Production sets the console's own (its mail, links and proxies); a laptop's defaults do.
    own = OWN_SETTINGS.get(process, set()) if variant.startswith("production") else set()
    assert settings_of(variant, container) == expected_settings() | {
        n for n in own if n.startswith("GANTRY_")
    }


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_migrations_run_with_every_setting(variant: str) -> None:
    container = main_container(of_kind(variant, "Job")["migrate"])
    assert container_argv(container) == ["python", "-m", "services.kit.migrate"]
    assert settings_of(variant, container) == expected_settings()


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_pod_is_non_root_read_only_without_capabilities_and_limited(variant: str) -> None:
    for workload in workloads(variant):
        pod = pod_template(workload)["spec"]
        assert pod["automountServiceAccountToken"] is False, workload["metadata"]["name"]
        for container in all_containers(workload):
            security = {**pod["securityContext"], **container.get("securityContext", {})}
            where = (workload["metadata"]["name"], container["name"])
            assert security["runAsNonRoot"] is True, where
            assert security["seccompProfile"] == {"type": "RuntimeDefault"}, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), where
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), where


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_deployment_that_may_run_several_pods_has_a_budget_and_rolls_within_it(variant: str) -> None:
    budgets = of_kind(variant, "PodDisruptionBudget").values()
    for deployment in of_kind(variant, "Deployment").values():
        if replica_ceiling(variant, deployment) < 2:
            continue
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        (budget,) = [b for b in budgets if selects(b["spec"]["selector"], labels)]
        assert budget["spec"]["maxUnavailable"] == 1
        # A rollout that never goes below the replicas asked for never eats into the budget.
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


@pytest.mark.parametrize("variant", VARIANTS)
def test_what_serves_traffic_leaves_its_endpoints_before_it_drains(variant: str) -> None:
    services = of_kind(variant, "Service").values()
    for deployment in of_kind(variant, "Deployment").values():
        if not is_gantry(deployment):
            continue
        pod = deployment["spec"]["template"]
        grace = pod["spec"].get("terminationGracePeriodSeconds", KUBERNETES_GRACE_SECONDS)
        if not any(
            selects({"matchLabels": s["spec"]["selector"]}, pod["metadata"]["labels"]) for s in services
        ):
            assert grace >= 30, deployment["metadata"]["name"]
            continue
        pause = main_container(deployment)["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert pause >= PRESTOP_SECONDS
        assert grace > pause + DRAIN_SECONDS, deployment["metadata"]["name"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_pod_has_its_own_service_account_without_a_token(variant: str) -> None:
    accounts = of_kind(variant, "ServiceAccount")
    for workload in workloads(variant):
        name = pod_template(workload)["spec"]["serviceAccountName"]
        assert name == workload["metadata"]["name"]
        assert accounts[name]["automountServiceAccountToken"] is False


@pytest.mark.parametrize("variant", VARIANTS)
def test_devices_reach_the_mqtt_adapter_through_a_load_balancer(variant: str) -> None:
    service = of_kind(variant, "Service")["mqtt"]
    assert service["spec"]["type"] == "LoadBalancer"
    assert [(port["port"], port["targetPort"]) for port in service["spec"]["ports"]] == [(1883, "mqtt")]


@pytest.mark.parametrize("variant", VARIANTS)
def test_no_secret_holds_a_placeholder(variant: str) -> None:
    for secret in of_kind(variant, "Secret").values():
        assert secret["metadata"]["name"].startswith(SECRET_NAME)
        assert "REPLACE-ME" not in yaml.safe_dump(secret)


def first_apply_components() -> set[str]:
    """The components docs/operations.md's upgrade applies before the rest, one
    `kubectl apply -k $OVERLAY -l app.kubernetes.io/component=...` each."""
    return set(
        re.findall(r"apply -k \$OVERLAY -l app\.kubernetes\.io/component=([a-z]+)", OPERATIONS.read_text())
    )


@pytest.mark.parametrize("variant", VARIANTS)
def test_an_upgrade_first_applies_the_migrations_and_all_they_read(variant: str) -> None:
    first = {
        (doc["kind"], doc["metadata"]["name"])
        for doc in rendered(variant)
        if doc["metadata"].get("labels", {}).get("app.kubernetes.io/component") in first_apply_components()
    }
    assert {("Job", "migrate"), ("ServiceAccount", "migrate")} <= first
    assert not {kind for kind, _ in first} & WORKLOAD_KINDS - {"Job"}
    secrets = of_kind(variant, "Secret")
    for container in all_containers(of_kind(variant, "Job")["migrate"]):
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                assert ("ConfigMap", source["configMapRef"]["name"]) in first
            elif source["secretRef"]["name"] in secrets:
                assert ("Secret", source["secretRef"]["name"]) in first


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("process", procfile())
def test_every_process_is_probed_as_it_can_answer(variant: str, process: str) -> None:
    container = main_container(of_kind(variant, "Deployment")[process])
    for probe in (container["readinessProbe"], container["livenessProbe"]):
        if process.endswith("-api"):
            assert probe["grpc"]["port"] == next(
                p["containerPort"] for p in container["ports"] if p["name"] == "grpc"
            )
        elif process == "gateway":
            assert probe["httpGet"]["path"] == "/healthz"
        else:
            assert {"httpGet", "tcpSocket", "exec"} & set(probe), process
