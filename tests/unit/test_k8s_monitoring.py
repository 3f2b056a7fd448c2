"""The monitoring component: every Procfile process scraped, alerts and the dashboard written
over metrics the code really exports (read from services/ as the prometheus_client calls
that define them) or that a named exporter beside the platform does, and each alert saying
what it means and what to do."""

from __future__ import annotations

import json
import re
from functools import cache

import promql_parser
import pytest

from tests.unit.test_deployment import METRICS_PORT, ROOT, procfile
from tests.unit.test_k8s_environments import QUEUE_CONSUMERS, TOPOLOGY
from tests.unit.test_k8s_overlays import MONITORING, OVERLAYS, Manifest, of_kind, selects

MONITORED = [f"{overlay}+monitoring" for overlay in OVERLAYS]
DASHBOARD = MONITORING / "dashboard.json"
# Series of the parts around the platform, by who exports them.
EXTERNAL_METRICS = {
    "rabbitmq_detailed_queue_messages": "RabbitMQ's rabbitmq_prometheus plugin, /metrics/detailed",
    "kube_cronjob_status_last_schedule_time": "kube-state-metrics",
    "kube_cronjob_status_last_successful_time": "kube-state-metrics",
    "certmanager_certificate_expiration_timestamp_seconds": "cert-manager",
}
# What the alerts must watch, by a word of their names.
WATCHED = ("QueueDepth", "DeadLetters", "TelemetryWriter", "GatewayErrors", "Ledger", "Certificate")
DEFINITION = re.compile(r"\b(Counter|Gauge|Histogram|Info)\(\s*(f?)\"([a-z_{}]+)\"")
NAMED_CONSUMER = re.compile(r"ConsumerMetrics\.named\(\"(\w+)\", \"(\w+)\"\)")
SUFFIXES = {
    "Counter": ("_total", "_created"),
    "Histogram": ("_bucket", "_sum", "_count", "_created"),
    "Gauge": ("",),
    "Info": ("_info",),
}
PROMQL_WORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
}


def series_of(kind: str, name: str) -> set[str]:
    base = name.removesuffix("_total") if kind == "Counter" else name
    return {base + suffix for suffix in SUFFIXES[kind]}


@cache
def exported_metrics() -> frozenset[str]:
    """Every series name services/ defines. Names made from a template (`f"{prefix}_..."`) are
    expanded with the arguments of ConsumerMetrics.named calls."""
    sources = [path.read_text() for path in (ROOT / "services").rglob("*.py")]
    consumers = [
        {"prefix": f"gantry_{service}", "done": done}
        for text in sources
        for service, done in NAMED_CONSUMER.findall(text)
    ]
    names: set[str] = set()
    for text in sources:
        for kind, template, name in DEFINITION.findall(text):
            expansions = [name.format(**consumer) for consumer in consumers] if template else [name]
            for expanded in expansions:
                names |= series_of(kind, expanded)
    return frozenset(names)


def selectors(expr: str) -> list[promql_parser.VectorSelector]:
    """The series selectors of an expression, which must parse as PromQL."""
    found: list[promql_parser.VectorSelector] = []

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def metric_names(expr: str) -> set[str]:
    return {selector.name for selector in selectors(expr)}


def alerting_rules(variant: str) -> list[dict[str, object]]:
    return [
        rule
        for doc in of_kind(variant, "PrometheusRule").values()
        for group in doc["spec"]["groups"]
        for rule in group["rules"]
    ]


def dashboard_expressions(dashboard: dict[str, object]) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def assert_only_known_metrics(expr: str) -> None:
    unknown = metric_names(expr) - exported_metrics() - set(EXTERNAL_METRICS)
    assert not unknown, f"{expr!r} reads {unknown}, which nothing exports"


def test_the_metrics_of_the_code_are_found() -> None:
    expected = {
        "gantry_http_requests_total",
        "gantry_http_request_seconds_bucket",
        "gantry_telemetry_flush_failing_seconds",
        "gantry_analytics_readings_evaluated_total",
        "gantry_build_info",
    }
    assert expected <= exported_metrics()


def test_the_names_an_expression_reads_are_its_series_only() -> None:
    expr = (
        'sum by (le) (rate(gantry_http_request_seconds_bucket{route=~"a.+"}[5m])) / on(pod) x_total > bool 1'
    )
    assert metric_names(expr) == {"gantry_http_request_seconds_bucket", "x_total"}


@pytest.mark.parametrize("variant", MONITORED)
def test_every_rule_reads_only_exported_metrics(variant: str) -> None:
    for rule in alerting_rules(variant):
        assert_only_known_metrics(rule["expr"])


@pytest.mark.parametrize("variant", MONITORED)
def test_every_alert_says_what_it_means_and_what_to_do(variant: str) -> None:
    rules = alerting_rules(variant)
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]
        assert len(rule["annotations"]["description"].split()) >= 20, rule["alert"]
    names = " ".join(rule["alert"] for rule in rules)
    assert all(word in names for word in WATCHED)


def watches(expr: str, queue: str) -> bool:
    """Whether some selector of `expr` takes the series of `queue` (by its `queue` label)."""
    tests = {
        int(promql_parser.MatchOp.Equal): lambda value: queue == value,
        int(promql_parser.MatchOp.NotEqual): lambda value: queue != value,
        int(promql_parser.MatchOp.Re): lambda value: re.fullmatch(value, queue) is not None,
        int(promql_parser.MatchOp.NotRe): lambda value: re.fullmatch(value, queue) is None,
    }
    return any(
        all(tests[int(m.op)](m.value) for m in selector.matchers.matchers if m.name == "queue")
        and any(m.name == "queue" for m in selector.matchers.matchers)
        for selector in selectors(expr)
    )


def test_the_queue_alerts_watch_the_queues_of_the_platform() -> None:
    rules = {rule["alert"]: rule["expr"] for rule in alerting_rules("production+monitoring")}
    dead_letters = TOPOLOGY.dead_letter_queue
    consumers = list(QUEUE_CONSUMERS.values())
    assert watches(rules["GantryDeadLettersPresent"], dead_letters)
    assert all(watches(rules["GantryQueueDepthGrowing"], queue) for queue in consumers)
    assert not watches(rules["GantryQueueDepthGrowing"], dead_letters)
    assert watches(rules["GantryTelemetryWriterBehind"], QUEUE_CONSUMERS["telemetry-writer"])
    evaluator_queue = QUEUE_CONSUMERS["analytics-evaluator"]
    assert all(
        watches(rules["GantryAnalyticsEvaluatorBehind"], q) for q in (evaluator_queue, f"{evaluator_queue}.1")
    )


def test_the_dashboard_parses_and_reads_only_exported_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = dashboard_expressions(dashboard)
    assert expressions
    for expr in expressions:
        assert_only_known_metrics(expr)


@pytest.mark.parametrize("variant", MONITORED)
def test_the_dashboard_is_a_config_map_for_grafanas_sidecar(variant: str) -> None:
    config_map = of_kind(variant, "ConfigMap")["gantry-dashboard"]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["data"] == {DASHBOARD.name: DASHBOARD.read_text()}


@pytest.mark.parametrize("variant", MONITORED)
@pytest.mark.parametrize("process", procfile())
def test_every_procfile_process_is_scraped_on_its_metrics_port(variant: str, process: str) -> None:
    pod = of_kind(variant, "Deployment")[process]["spec"]["template"]
    ports = {
        port["name"]: port["containerPort"]
        for container in pod["spec"]["containers"]
        for port in container["ports"]
    }
    scraping = [
        endpoint["port"]
        for monitor in of_kind(variant, "PodMonitor").values()
        if selected_by(monitor, pod["metadata"]["labels"])
        for endpoint in monitor["spec"]["podMetricsEndpoints"]
    ]
    assert scraping == ["metrics"]
    # Alerts and panels name the process by the `container` label of its series.
    assert [container["name"] for container in pod["spec"]["containers"]] == [process]
    # The port named so is the one the process serves its metrics on (GANTRY_METRICS_PORT).
    serving = int(of_kind(variant, "ConfigMap")["gantry-config"]["data"]["GANTRY_METRICS_PORT"])
    assert ports["metrics"] == serving == METRICS_PORT


def selected_by(monitor: Manifest, labels: dict[str, str]) -> bool:
    selector = monitor["spec"]["selector"]
    excluded = any(
        labels.get(expression["key"]) in expression["values"]
        for expression in selector.get("matchExpressions", [])
        if expression["operator"] == "NotIn"
    )
    return selects(selector, labels) and not excluded


@pytest.mark.parametrize("variant", MONITORED)
def test_the_ledger_check_runs_the_gateways_image_against_marketplace(variant: str) -> None:
    check = of_kind(variant, "CronJob")["ledger-check"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    gateway = of_kind(variant, "Deployment")["gateway"]["spec"]["template"]["spec"]
    (container,) = check["containers"]
    assert container["image"] == gateway["containers"][0]["image"]
    assert "CheckLedger" in container["command"][-1]
    assert {"configMapRef": {"name": "gantry-config"}} in container["envFrom"]


def test_the_rules_watch_the_ledger_check_that_the_component_schedules() -> None:
    (cron_job,) = of_kind("production+monitoring", "CronJob")
    rules = [rule for rule in alerting_rules("production+monitoring") if "Ledger" in rule["alert"]]
    assert rules and all(f'cronjob="{cron_job}"' in rule["expr"] for rule in rules)


def grpc_methods() -> set[str]:
    """Every method as the servers name it in metrics: /gantry.v1.<Service>/<Method>."""
    methods = set()
    for proto in (ROOT / "protos" / "gantry" / "v1").glob("*.proto"):
        for service, body in re.findall(r"service (\w+) \{(.*?)\n\}", proto.read_text(), re.S):
            methods |= {f"/gantry.v1.{service}/{rpc}" for rpc in re.findall(r"rpc (\w+)\(", body)}
    return methods


def test_the_grpc_methods_of_the_dashboard_exist() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    patterns = [
        matcher.value
        for expr in dashboard_expressions(dashboard)
        for selector in selectors(expr)
        for matcher in selector.matchers.matchers
        if matcher.name == "method"
    ]
    assert patterns
    for pattern in patterns:
        named = {method for method in grpc_methods() if re.fullmatch(pattern, method)}
        assert named and all(method.endswith(alternative) for method in named for alternative in [""]), (
            pattern
        )
