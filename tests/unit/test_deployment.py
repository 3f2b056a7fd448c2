"""The deployment files (Dockerfile, docker-compose.yml, k8s/) agree with the Procfile and with
each other, and the Kubernetes manifests are valid and hardened. No Docker, kubectl or network."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROCFILE = ROOT / "Procfile"
COMPOSE_FILE = ROOT / "docker-compose.yml"
K8S_BASE = ROOT / "k8s" / "base"
K8S_LOCAL = ROOT / "k8s" / "overlays" / "local"
K8S_PRODUCTION = ROOT / "k8s" / "overlays" / "production"
K8S_README = ROOT / "k8s" / "README.md"
OPERATIONS = ROOT / "docs" / "operations.md"
SECRET_NAME = "gantry-secrets"
KUBERNETES_VERSION = "1.30"
METRICS_PORT = 9100
WORKLOAD_KINDS = {"Deployment", "Job"}
SECRET_SETTING_SUFFIXES = ("_OPERATOR_TOKEN", "_AMQP_URL", "_DATABASE_URL", "_REDIS_URL")

Manifest = dict[str, Any]


def read_procfile(path: Path) -> dict[str, str]:
    """Process name -> command, in file order."""
    processes: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, command = line.partition(":")
        processes[name.strip()] = command.strip()
    return processes


@cache
def procfile() -> dict[str, str]:
    return read_procfile(PROCFILE)


def procfile_argv(process: str) -> list[str]:
    return shlex.split(procfile()[process])


def api_processes() -> list[str]:
    return [name for name in procfile() if name.endswith("-api")]


def worker_processes() -> list[str]:
    return [name for name in procfile() if name.endswith("-worker")]


def service_of(api_process: str) -> str:
    return api_process.removesuffix("-api")


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def compose_service(name: str) -> dict[str, Any]:
    return compose()["services"][name]


def shared_compose_env() -> dict[str, str]:
    return compose()["x-gantry-env"]


def as_argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def expected_settings() -> set[str]:
    per_service = {
        f"GANTRY_{service_of(api).upper()}_{suffix}"
        for api in api_processes()
        for suffix in ("DATABASE_URL", "GRPC_PORT", "GRPC_TARGET")
    }
    shared = {
        "GANTRY_AMQP_URL",
        "GANTRY_BIND_HOST",
        "GANTRY_METRICS_PORT",
        "GANTRY_GATEWAY_PORT",
        "GANTRY_MQTT_PORT",
        "GANTRY_OPERATOR_TOKEN",
        "GANTRY_LOG_LEVEL",
        "GANTRY_REDIS_URL",
    }
    return per_service | shared


def is_secret_setting(name: str) -> bool:
    return name.endswith(SECRET_SETTING_SUFFIXES)


def load_yaml_documents(path: Path) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kustomization(directory: Path) -> dict[str, Any]:
    return yaml.safe_load((directory / "kustomization.yaml").read_text())


def kustomization_dirs() -> list[Path]:
    return sorted(path.parent for path in (ROOT / "k8s").rglob("kustomization.yaml"))


def referenced_paths(directory: Path) -> list[Path]:
    """Every file or directory that the kustomization in `directory` names."""
    config = kustomization(directory)
    names = list(config.get("resources", []))
    for patch in config.get("patches", []) + config.get("patchesStrategicMerge", []):
        if isinstance(patch, str):
            names.append(patch)
        elif "path" in patch:
            names.append(patch["path"])
    return [directory / name for name in names]


@cache
def base_manifests() -> tuple[Manifest, ...]:
    return tuple(doc for path in referenced_paths(K8S_BASE) for doc in load_yaml_documents(path))


def manifests_of_kind(kind: str) -> dict[str, Manifest]:
    return {doc["metadata"]["name"]: doc for doc in base_manifests() if doc["kind"] == kind}


def workloads() -> list[Manifest]:
    return [doc for doc in base_manifests() if doc["kind"] in WORKLOAD_KINDS]


def pod_spec(workload: Manifest) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def containers(workload: Manifest) -> Iterator[dict[str, Any]]:
    spec = pod_spec(workload)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def main_container(deployment: Manifest) -> dict[str, Any]:
    (container,) = pod_spec(deployment)["containers"]
    return container


def container_argv(container: dict[str, Any]) -> list[str]:
    return [*container.get("command", []), *container.get("args", [])]


def named_port(container: dict[str, Any], name: str) -> int:
    return next(port["containerPort"] for port in container["ports"] if port["name"] == name)


def manifest_id(doc: Manifest) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


# --- docker compose ---------------------------------------------------------------------------


@pytest.mark.parametrize("process", procfile())
def test_every_procfile_process_is_a_compose_service_with_its_command(process: str) -> None:
    assert process in compose()["services"]
    assert as_argv(compose_service(process)["command"]) == procfile_argv(process)


# Settings of one process, beside the shared ones: the console's mail, links and proxies (set
# by compose and the production overlay; the local overlay's defaults are those of a laptop).
CONSOLE_SETTINGS = {
    "GANTRY_CONSOLE_PUBLIC_URL",
    "GANTRY_CONSOLE_API_DOCS_URL",
    "FORWARDED_ALLOW_IPS",
    *(f"GANTRY_SMTP_{name}" for name in ("HOST", "PORT", "USER", "PASSWORD", "FROM")),
}
OWN_SETTINGS = {"console": CONSOLE_SETTINGS}


@pytest.mark.parametrize("process", [*procfile(), "migrate"])
def test_every_gantry_compose_service_gets_the_shared_environment(process: str) -> None:
    environment = compose_service(process)["environment"]
    assert environment.items() >= shared_compose_env().items()
    assert set(environment) - set(shared_compose_env()) == OWN_SETTINGS.get(process, set())


def test_the_consoles_own_compose_settings_are_documented_and_default_to_the_documented_values() -> None:
    operations = OPERATIONS.read_text()
    environment = compose_service("console")["environment"]
    for name in CONSOLE_SETTINGS:
        assert f"`{name}`" in operations, name
        # `${NAME:-default}`: the operator's value if set, else the default the console has.
        assert environment[name].startswith(f"${{{name}:-"), name
    assert environment["FORWARDED_ALLOW_IPS"] == "${FORWARDED_ALLOW_IPS:-127.0.0.1}"


def test_the_shared_compose_environment_holds_every_setting() -> None:
    assert set(shared_compose_env()) == expected_settings()


def test_compose_grpc_targets_name_the_api_services_and_their_ports() -> None:
    env = shared_compose_env()
    for api in api_processes():
        prefix = f"GANTRY_{service_of(api).upper()}"
        assert env[f"{prefix}_GRPC_TARGET"] == f"{api}:{env[f'{prefix}_GRPC_PORT']}"


@pytest.mark.parametrize("process", api_processes())
def test_every_api_has_a_grpc_healthcheck_on_its_port(process: str) -> None:
    check = compose_service(process)["healthcheck"]["test"]
    port = shared_compose_env()[f"GANTRY_{service_of(process).upper()}_GRPC_PORT"]
    assert any("grpc_health" in str(part) for part in check)
    assert port in [str(part) for part in check]


@pytest.mark.parametrize("process", [*worker_processes(), "gateway", "mqtt", "rabbitmq", "postgres", "redis"])
def test_other_long_running_services_have_a_healthcheck(process: str) -> None:
    assert compose_service(process)["healthcheck"]["test"]


def test_every_dependency_waits_for_a_condition() -> None:
    allowed = {"service_healthy", "service_completed_successfully"}
    for name, service in compose()["services"].items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in compose()["services"], (name, dependency)
            assert rule["condition"] in allowed, (name, dependency)


def test_migrations_run_once_before_the_apis_start() -> None:
    assert as_argv(compose_service("migrate")["command"]) == shlex.split("python -m services.kit.migrate")
    for api in api_processes():
        assert compose_service(api)["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_gateway_is_published_on_8080() -> None:
    assert "8080:8080" in [str(port) for port in compose_service("gateway")["ports"]]


def test_postgres_creates_one_database_per_service() -> None:
    mounts = compose_service("postgres")["volumes"]
    init_script = next(mount.split(":")[0] for mount in mounts if "docker-entrypoint-initdb.d" in mount)
    sql = (ROOT / init_script).read_text()
    for api in api_processes():
        assert f"CREATE DATABASE {service_of(api)};" in sql


# --- Dockerfile -------------------------------------------------------------------------------


def image_user() -> str:
    """The user of the final stage: the last USER instruction of the Dockerfile."""
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    return [line.split()[1] for line in lines if line.startswith("USER ")][-1]


def test_dockerfile_runs_as_a_numeric_non_root_user() -> None:
    uid = image_user().split(":")[0]
    assert uid.isdigit() and int(uid) != 0


def test_pods_run_as_the_image_user() -> None:
    uid = int(image_user().split(":")[0])
    for workload in workloads():
        assert pod_spec(workload)["securityContext"]["runAsUser"] == uid


# --- Kubernetes -------------------------------------------------------------------------------


@pytest.mark.parametrize("directory", kustomization_dirs(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_file_a_kustomization_names_exists(directory: Path) -> None:
    for path in referenced_paths(directory):
        assert path.exists(), path


def test_every_base_manifest_file_is_a_kustomization_resource() -> None:
    listed = {path.resolve() for path in referenced_paths(K8S_BASE)}
    on_disk = {path.resolve() for path in K8S_BASE.glob("*.y*ml") if path.name != "kustomization.yaml"}
    assert on_disk == listed


@pytest.mark.parametrize("directory", [K8S_LOCAL, K8S_PRODUCTION], ids=lambda path: path.name)
def test_an_overlay_builds_on_the_base_and_uses_every_file_it_has(directory: Path) -> None:
    resources = [directory / name for name in kustomization(directory).get("resources", [])]
    assert K8S_BASE.resolve() in [path.resolve() for path in resources]
    listed = {path.resolve() for path in referenced_paths(directory)}
    own_files = {path.resolve() for path in directory.glob("*.y*ml") if path.name != "kustomization.yaml"}
    assert own_files <= listed


@pytest.mark.parametrize("manifest", base_manifests(), ids=manifest_id)
def test_base_manifest_is_valid_for_kubernetes(manifest: Manifest) -> None:
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("process", procfile())
def test_every_procfile_process_has_a_deployment_with_its_command(process: str) -> None:
    deployment = manifests_of_kind("Deployment")[process]
    assert container_argv(main_container(deployment)) == procfile_argv(process)


def test_the_migration_job_runs_the_migrations() -> None:
    (job,) = manifests_of_kind("Job").values()
    assert container_argv(main_container(job)) == shlex.split("python -m services.kit.migrate")


@pytest.mark.parametrize("workload", workloads(), ids=manifest_id)
def test_every_container_is_non_root_read_only_and_limited(workload: Manifest) -> None:
    pod_security = pod_spec(workload).get("securityContext", {})
    for container in containers(workload):
        security = {**pod_security, **container.get("securityContext", {})}
        assert security.get("runAsNonRoot") is True
        assert security.get("readOnlyRootFilesystem") is True
        assert security.get("allowPrivilegeEscalation") is False
        assert security.get("capabilities", {}).get("drop") == ["ALL"]
        assert {"cpu", "memory"} <= set(container["resources"]["limits"])
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert "/tmp" in [mount["mountPath"] for mount in container.get("volumeMounts", [])]


@pytest.mark.parametrize("workload", workloads(), ids=manifest_id)
def test_every_pod_has_its_own_service_account_without_a_token(workload: Manifest) -> None:
    accounts = manifests_of_kind("ServiceAccount")
    name = pod_spec(workload)["serviceAccountName"]
    assert name == workload["metadata"]["name"]
    assert accounts[name]["automountServiceAccountToken"] is False
    assert pod_spec(workload)["automountServiceAccountToken"] is False


@pytest.mark.parametrize("workload", workloads(), ids=manifest_id)
def test_every_pod_reads_the_shared_config_and_secret(workload: Manifest) -> None:
    for container in containers(workload):
        sources = container["envFrom"]
        assert {"name": "gantry-config"} in [source.get("configMapRef") for source in sources]
        assert {"name": "gantry-secrets"} in [source.get("secretRef") for source in sources]


@pytest.mark.parametrize("process", api_processes())
def test_every_api_deployment_has_grpc_probes_on_its_port(process: str) -> None:
    container = main_container(manifests_of_kind("Deployment")[process])
    port = named_port(container, "grpc")
    assert container["readinessProbe"]["grpc"]["port"] == port
    assert container["livenessProbe"]["grpc"]["port"] == port


@pytest.mark.parametrize("process", worker_processes())
def test_every_worker_is_probed_on_its_metrics_port(process: str) -> None:
    container = main_container(manifests_of_kind("Deployment")[process])
    assert named_port(container, "metrics") == METRICS_PORT
    for probe in ("readinessProbe", "livenessProbe"):
        check = container[probe].get("httpGet") or container[probe]["tcpSocket"]
        assert check["port"] in ("metrics", METRICS_PORT)


def test_gateway_readiness_does_not_follow_its_backends() -> None:
    # Every replica shares the backends: were readiness to follow them, one broker outage
    # would take every gateway out of the Service, answers of 503 with Retry-After included.
    container = main_container(manifests_of_kind("Deployment")["gateway"])
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


@pytest.mark.parametrize(
    "deployment",
    [doc for doc in manifests_of_kind("Deployment").values() if doc["spec"]["replicas"] > 1],
    ids=manifest_id,
)
def test_every_multi_replica_deployment_has_a_disruption_budget(deployment: Manifest) -> None:
    budget = manifests_of_kind("PodDisruptionBudget")[deployment["metadata"]["name"]]
    assert budget["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert budget["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize("process", [*api_processes(), "gateway"])
def test_every_api_and_the_gateway_have_a_service_on_their_port(process: str) -> None:
    service = manifests_of_kind("Service")[process]
    deployment = manifests_of_kind("Deployment")[process]
    port_name = "http" if process == "gateway" else "grpc"
    (port,) = service["spec"]["ports"]
    assert port["name"] == port_name
    assert port["port"] == named_port(main_container(deployment), port_name)
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("workload", workloads(), ids=manifest_id)
def test_every_pod_template_matches_its_selector(workload: Manifest) -> None:
    template_labels = workload["spec"]["template"]["metadata"]["labels"]
    selector = workload["spec"].get("selector", {}).get("matchLabels", {})
    assert selector.items() <= template_labels.items()
    assert template_labels["app.kubernetes.io/part-of"] == "gantry"


def documented_secret_keys(secret: str) -> set[str]:
    """The keys k8s/README.md lists for `secret`: the table after the line that names it."""
    after = K8S_README.read_text().split(f"\n`{secret}`, ", 1)[1]
    table = after.split("\n\n", 2)[1]
    return {row.split("`")[1] for row in table.splitlines() if row.startswith("| `")}


def test_config_and_the_documented_secret_hold_every_setting_and_only_credentials_are_secret() -> None:
    # The base holds no Secret: production's is the operator's, local's is generated.
    assert "Secret" not in {doc["kind"] for doc in base_manifests()}
    config = set(manifests_of_kind("ConfigMap")["gantry-config"]["data"])
    secret = documented_secret_keys(SECRET_NAME)
    assert config | secret == expected_settings()
    assert not config & secret
    assert all(is_secret_setting(name) for name in secret)
    assert not any(is_secret_setting(name) for name in config)


def test_kubernetes_grpc_targets_name_the_api_services_and_their_ports() -> None:
    config = manifests_of_kind("ConfigMap")["gantry-config"]["data"]
    services = manifests_of_kind("Service")
    for api in api_processes():
        prefix = f"GANTRY_{service_of(api).upper()}"
        (service_port,) = services[api]["spec"]["ports"]
        assert config[f"{prefix}_GRPC_PORT"] == str(service_port["port"])
        assert config[f"{prefix}_GRPC_TARGET"] == f"{api}:{service_port['port']}"


def test_network_policies_deny_everything_by_default() -> None:
    policies = manifests_of_kind("NetworkPolicy").values()
    deny_all = [
        policy
        for policy in policies
        if policy["spec"]["podSelector"] == {}
        and set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not policy["spec"].get("ingress")
        and not policy["spec"].get("egress")
    ]
    assert deny_all


def test_the_mqtt_adapter_listens_on_1883_published_probed_and_open_to_devices() -> None:
    assert "1883:1883" in [str(port) for port in compose_service("mqtt")["ports"]]
    assert shared_compose_env()["GANTRY_MQTT_PORT"] == "1883"
    assert manifests_of_kind("ConfigMap")["gantry-config"]["data"]["GANTRY_MQTT_PORT"] == "1883"
    container = main_container(manifests_of_kind("Deployment")["mqtt"])
    assert named_port(container, "mqtt") == 1883
    assert container["readinessProbe"]["tcpSocket"]["port"] == "mqtt"
    (port,) = manifests_of_kind("Service")["mqtt"]["spec"]["ports"]
    assert (port["port"], port["targetPort"]) == (1883, "mqtt")
    policy = manifests_of_kind("NetworkPolicy")["mqtt-from-anywhere"]
    assert policy["spec"]["ingress"] == [{"ports": [{"protocol": "TCP", "port": 1883}]}]
