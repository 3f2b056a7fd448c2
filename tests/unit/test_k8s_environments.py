"""What each overlay is for. Local: a cluster that stands alone, its backends made by the
operators and its credentials generated, one replica of everything. Production: managed
backends by documented Secrets, autoscaling that never removes a busy consumer, spreading, a
TLS Ingress for the gateway."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

import pytest

from services.analytics.partitions import WHOLE
from services.kit import settings
from services.kit.bus import Topology
from services.telemetry.bus import READINGS
from tests.unit.test_deployment import api_processes, documented_secret_keys, service_of
from tests.unit.test_k8s_overlays import Manifest, is_gantry, main_container, of_kind, pod_template, workloads

TOPOLOGY = Topology("gantry")
# Autoscaled on queue depth: the consumer process and the queue it consumes.
QUEUE_CONSUMERS = {
    "telemetry-writer": TOPOLOGY.queue(READINGS.name),
    "analytics-evaluator": TOPOLOGY.queue(WHOLE.queue.name),
}
SINGLE_ACTIVE_CONSUMERS = {"analytics-evaluator"}
CPU_AUTOSCALED = [*api_processes(), "gateway", "mqtt"]
OPERATOR_SECRETS = {"postgresql.cnpg.io/v1": "{}-app", "rabbitmq.com/v1beta1": "{}-default-user"}


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def secrets_referenced(container: dict[str, Any]) -> set[str]:
    from_env = {
        entry["valueFrom"]["secretKeyRef"]["name"]
        for entry in container.get("env", [])
        if "secretKeyRef" in entry.get("valueFrom", {})
    }
    return from_env | {
        source["secretRef"]["name"] for source in container.get("envFrom", []) if "secretRef" in source
    }


def operator_made_secrets(variant: str) -> set[str]:
    """The Secrets the operators make for the clusters the overlay holds."""
    return {
        OPERATOR_SECRETS[doc["apiVersion"]].format(doc["metadata"]["name"])
        for doc in [*of_kind(variant, "Cluster").values(), *of_kind(variant, "RabbitmqCluster").values()]
    }


# --- local ------------------------------------------------------------------------------------


def test_local_runs_one_replica_of_everything() -> None:
    assert {d["spec"]["replicas"] for d in of_kind("local", "Deployment").values()} == {1}
    assert not of_kind("local", "HorizontalPodAutoscaler") and not of_kind("local", "ScaledObject")


def test_local_credentials_are_generated_by_kustomize_or_the_operators() -> None:
    generated = set(of_kind("local", "Secret")) | operator_made_secrets("local")
    for workload in workloads("local"):
        for container in pod_template(workload)["spec"]["containers"]:
            assert secrets_referenced(container) <= generated, workload["metadata"]["name"]


@pytest.mark.parametrize("api", api_processes())
def test_local_database_urls_are_those_of_each_service_database(api: str) -> None:
    service = service_of(api)
    (cluster,) = [
        c
        for c in of_kind("local", "Cluster").values()
        if c["spec"]["bootstrap"]["initdb"]["database"] == service
    ]
    for workload in workloads("local"):
        if is_gantry(workload):
            setting = env_of(main_container(workload))[f"GANTRY_{service.upper()}_DATABASE_URL"]
            assert setting["valueFrom"]["secretKeyRef"] == {
                "name": f"{cluster['metadata']['name']}-app",
                "key": "uri",
            }


def test_local_broker_url_points_at_the_in_cluster_rabbitmq_with_its_generated_user() -> None:
    (broker,) = of_kind("local", "RabbitmqCluster")
    for workload in workloads("local"):
        if not is_gantry(workload):
            continue
        env = env_of(main_container(workload))
        url = urlsplit(env["GANTRY_AMQP_URL"]["value"])
        assert (url.scheme, url.hostname, url.port) == ("amqp", broker, 5672)
        # Kubernetes expands $(NAME) from variables defined before it in the same list.
        names = list(env)
        for part, key in ((url.username, "username"), (url.password, "password")):
            variable = part.removeprefix("$(").removesuffix(")")
            assert names.index(variable) < names.index("GANTRY_AMQP_URL")
            assert env[variable]["valueFrom"]["secretKeyRef"] == {
                "name": f"{broker}-default-user",
                "key": key,
            }


def test_local_redis_is_the_in_cluster_one() -> None:
    (secret,) = of_kind("local", "Secret").values()
    url = urlsplit(base64.b64decode(secret["data"]["GANTRY_REDIS_URL"]).decode())
    port = of_kind("local", "Service")[url.hostname]["spec"]["ports"][0]["port"]
    assert (url.scheme, url.port) == ("redis", port)


def test_local_migrations_wait_for_every_database_and_the_broker() -> None:
    job = of_kind("local", "Job")["migrate"]
    (waiter,) = job["spec"]["template"]["spec"]["initContainers"]
    expected = {f"{name}-rw:5432" for name in of_kind("local", "Cluster")} | {
        f"{name}:5672" for name in of_kind("local", "RabbitmqCluster")
    }
    assert set(waiter["command"][3:]) == expected
    assert waiter["image"] == main_container(job)["image"]


def test_local_backends_admit_gantry_pods_despite_the_deny_all() -> None:
    policies = of_kind("local", "NetworkPolicy")
    for name, port in (("postgres", 5432), ("rabbitmq", 5672), ("redis", 6379)):
        rules = policies[name]["spec"]["ingress"]
        admitted = [
            rule
            for rule in rules
            if {"protocol": "TCP", "port": port} in rule["ports"]
            and {"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "gantry"}}} in rule["from"]
        ]
        assert admitted, name


# --- production -------------------------------------------------------------------------------


def test_production_holds_no_credentials_and_reads_only_documented_secrets() -> None:
    assert not of_kind("production", "Secret")
    for workload in workloads("production"):
        for container in pod_template(workload)["spec"]["containers"]:
            for name in secrets_referenced(container):
                assert documented_secret_keys(name), name
    for auth in of_kind("production", "TriggerAuthentication").values():
        for ref in auth["spec"]["secretTargetRef"]:
            assert ref["key"] in documented_secret_keys(ref["name"])


@pytest.mark.parametrize("process", CPU_AUTOSCALED)
def test_production_autoscales_every_api_the_gateway_and_mqtt_on_cpu(process: str) -> None:
    hpa = of_kind("production", "HorizontalPodAutoscaler")[process]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": process}
    assert hpa["spec"]["minReplicas"] >= 2
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"


@pytest.mark.parametrize("process", QUEUE_CONSUMERS)
def test_production_scales_consumers_of_readings_on_their_queue_counting_unacknowledged(process: str) -> None:
    scaled = of_kind("production", "ScaledObject")[process]
    assert scaled["spec"]["scaleTargetRef"]["name"] == process
    (trigger,) = scaled["spec"]["triggers"]
    metadata = trigger["metadata"]
    # Over AMQP only ready messages count, and a consumer holding a backlog looks idle.
    assert (trigger["type"], metadata["protocol"], metadata["mode"]) == ("rabbitmq", "http", "QueueLength")
    assert metadata.get("excludeUnacknowledged", "false") == "false"
    assert metadata["queueName"] == QUEUE_CONSUMERS[process]
    assert trigger["authenticationRef"]["name"] in of_kind("production", "TriggerAuthentication")


def test_the_evaluator_scales_to_one_standby_at_most() -> None:
    for process in SINGLE_ACTIVE_CONSUMERS:
        assert of_kind("production", "ScaledObject")[process]["spec"]["maxReplicaCount"] == 2


def test_production_leaves_replica_counts_to_the_autoscalers() -> None:
    autoscaled = set(of_kind("production", "HorizontalPodAutoscaler")) | set(
        of_kind("production", "ScaledObject")
    )
    assert set(CPU_AUTOSCALED) | set(QUEUE_CONSUMERS) <= autoscaled
    for name, deployment in of_kind("production", "Deployment").items():
        assert ("replicas" in deployment["spec"]) == (name not in autoscaled), name


def test_production_spreads_every_deployment_over_zones_and_nodes() -> None:
    for deployment in of_kind("production", "Deployment").values():
        constraints = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert {c["topologyKey"] for c in constraints} == {
            "topology.kubernetes.io/zone",
            "kubernetes.io/hostname",
        }
        for constraint in constraints:
            assert "app.kubernetes.io/name" in constraint["matchLabelKeys"]
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            assert constraint["labelSelector"]["matchLabels"].items() <= labels.items()


def test_the_gateway_ingress_terminates_tls_with_a_cert_manager_certificate() -> None:
    ingress: Manifest = of_kind("production", "Ingress")["gateway"]
    assert "cert-manager.io/cluster-issuer" in ingress["metadata"]["annotations"]
    (tls,) = ingress["spec"]["tls"]
    (rule,) = ingress["spec"]["rules"]
    assert tls["hosts"] == [rule["host"]] and tls["secretName"]
    (path,) = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": "gateway", "port": {"name": "http"}}


def test_the_console_is_reached_through_its_ingress_and_mails_through_a_relay() -> None:
    ingress: Manifest = of_kind("production", "Ingress")["console"]
    (tls,) = ingress["spec"]["tls"]
    (rule,) = ingress["spec"]["rules"]
    assert tls["hosts"] == [rule["host"]] and tls["secretName"]
    (path,) = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": "console", "port": {"name": "http"}}
    env = env_of(main_container(of_kind("production", "Deployment")["console"]))
    # The links it mails lead to that host, over TLS.
    assert env["GANTRY_CONSOLE_PUBLIC_URL"]["value"] == f"https://{rule['host']}"
    # The proxies it believes are a network, never everyone; and only the ingress reaches it.
    assert env["FORWARDED_ALLOW_IPS"]["value"] not in ("", "*")
    (allowed,) = of_kind("production", "NetworkPolicy")["console-from-anywhere"]["spec"]["ingress"]
    assert [source["namespaceSelector"] for source in allowed["from"]] == [
        {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
    ]
    assert env["GANTRY_SMTP_HOST"]["value"] and env["GANTRY_SMTP_PORT"]["value"] == "587"
    for name in ("GANTRY_SMTP_USER", "GANTRY_SMTP_PASSWORD"):
        reference = env[name]["valueFrom"]["secretKeyRef"]
        assert reference["key"] in documented_secret_keys(reference["name"]) and reference["optional"]


@pytest.mark.parametrize("variant", ["local", "production"])
def test_queue_names_are_those_of_the_default_bus_namespace(
    variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # KEDA's queue names and the alerts' matchers assume it; an overlay that sets another
    # namespace must change them too.
    monkeypatch.delenv("GANTRY_BUS_NAMESPACE", raising=False)
    assert settings.bus_namespace() == TOPOLOGY.namespace
    assert "GANTRY_BUS_NAMESPACE" not in of_kind(variant, "ConfigMap")["gantry-config"]["data"]
