"""The custom resources the overlays and the monitoring component use, checked against the
fields their operators document: a small JSON schema per kind of the fields used here (their
names, types and what is required), closed where a misspelt field would go unnoticed.

Sources: CloudNativePG's API reference (postgresql.cnpg.io/v1 Cluster), the RabbitMQ Cluster
Operator's (rabbitmq.com/v1beta1 RabbitmqCluster), KEDA's ScaledObject and TriggerAuthentication
specifications and its rabbitmq scaler (keda.sh/v1alpha1), the Prometheus Operator's API
(monitoring.coreos.com/v1 PodMonitor, ServiceMonitor, PrometheusRule)."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

Schema = dict[str, Any]

STRING: Schema = {"type": "string", "minLength": 1}
COUNT: Schema = {"type": "integer", "minimum": 0}
STRING_MAP: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
QUANTITY: Schema = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?([KMGT]i|[kMGT]|m)?$"}
RESOURCES: Schema = {
    "type": "object",
    "properties": {"requests": STRING_MAP, "limits": STRING_MAP},
    "additionalProperties": False,
}
NAMED: Schema = {"type": "object", "required": ["name"], "properties": {"name": STRING}}
SELECTOR: Schema = {
    "type": "object",
    "properties": {"matchLabels": STRING_MAP, "matchExpressions": {"type": "array"}},
    "additionalProperties": False,
}


def closed(properties: dict[str, Schema], required: list[str] | None = None) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": required or [],
        "additionalProperties": False,
    }


def resource(spec: Schema) -> Schema:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "metadata": closed(
                {"name": STRING, "namespace": STRING, "labels": STRING_MAP, "annotations": STRING_MAP},
                ["name"],
            ),
            "spec": spec,
        },
    }


CNPG_CLUSTER = resource(
    closed(
        {
            "instances": {"type": "integer", "minimum": 1},
            "imageName": STRING,
            "storage": closed({"size": QUANTITY, "storageClass": STRING}, ["size"]),
            "bootstrap": closed({"initdb": closed({"database": STRING, "owner": STRING, "secret": NAMED})}),
            "resources": RESOURCES,
            "postgresql": {"type": "object"},
            "monitoring": {"type": "object"},
        },
        ["instances", "storage"],
    )
)

RABBITMQ_CLUSTER = resource(
    closed(
        {
            "replicas": {"type": "integer", "minimum": 1},
            "image": STRING,
            "persistence": closed({"storage": QUANTITY, "storageClassName": STRING}),
            "resources": RESOURCES,
            "rabbitmq": closed(
                {
                    "additionalPlugins": {"type": "array", "items": STRING},
                    "additionalConfig": {"type": "string"},
                    "advancedConfig": {"type": "string"},
                }
            ),
            "override": closed({"statefulSet": {"type": "object"}, "service": {"type": "object"}}),
        }
    )
)

# KEDA reads trigger metadata as strings only: a number there is refused.
RABBITMQ_TRIGGER_METADATA = closed(
    {
        "protocol": {"enum": ["amqp", "http", "auto"]},
        "mode": {"enum": ["QueueLength", "MessageRate"]},
        "value": STRING,
        "activationValue": STRING,
        "queueName": STRING,
        "vhostName": {"type": "string"},
        "excludeUnacknowledged": {"enum": ["true", "false"]},
        "useRegex": {"enum": ["true", "false"]},
        "operation": {"enum": ["sum", "max", "avg"]},
        "hostFromEnv": STRING,
    },
    ["mode", "value", "queueName"],
)
SCALED_OBJECT = resource(
    closed(
        {
            "scaleTargetRef": closed({"name": STRING, "kind": STRING, "apiVersion": STRING}, ["name"]),
            "minReplicaCount": COUNT,
            "maxReplicaCount": {"type": "integer", "minimum": 1},
            "pollingInterval": {"type": "integer", "minimum": 1},
            "cooldownPeriod": COUNT,
            "advanced": {"type": "object"},
            "triggers": {
                "type": "array",
                "minItems": 1,
                "items": closed(
                    {
                        "type": {"const": "rabbitmq"},
                        "metadata": RABBITMQ_TRIGGER_METADATA,
                        "authenticationRef": NAMED,
                    },
                    ["type", "metadata"],
                ),
            },
        },
        ["scaleTargetRef", "triggers"],
    )
)
TRIGGER_AUTHENTICATION = resource(
    closed(
        {
            "secretTargetRef": {
                "type": "array",
                "minItems": 1,
                "items": closed(
                    {"parameter": STRING, "name": STRING, "key": STRING}, ["parameter", "name", "key"]
                ),
            }
        },
        ["secretTargetRef"],
    )
)

RELABELING = closed(
    {
        "sourceLabels": {"type": "array", "items": STRING},
        "targetLabel": STRING,
        "regex": STRING,
        "replacement": {"type": "string"},
        "action": {"enum": ["replace", "keep", "drop", "labelmap", "labeldrop", "labelkeep"]},
    }
)
ENDPOINT_FIELDS: dict[str, Schema] = {
    "port": STRING,
    "path": {"type": "string", "pattern": "^/"},
    "interval": {"type": "string", "pattern": "^[0-9]+[smh]$"},
    "relabelings": {"type": "array", "items": RELABELING},
    "params": {"type": "object", "additionalProperties": {"type": "array", "items": STRING}},
}
POD_MONITOR = resource(
    closed(
        {
            "selector": SELECTOR,
            "namespaceSelector": {"type": "object"},
            "podMetricsEndpoints": {
                "type": "array",
                "minItems": 1,
                "items": closed(ENDPOINT_FIELDS, ["port"]),
            },
        },
        ["selector", "podMetricsEndpoints"],
    )
)
SERVICE_MONITOR = resource(
    closed(
        {
            "selector": SELECTOR,
            "namespaceSelector": {"type": "object"},
            "endpoints": {"type": "array", "minItems": 1, "items": closed(ENDPOINT_FIELDS, ["port"])},
        },
        ["selector", "endpoints"],
    )
)
ALERTING_RULE = closed(
    {
        "alert": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        "expr": STRING,
        "for": {"type": "string", "pattern": "^[0-9]+[smhd]$"},
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
    },
    ["alert", "expr"],
)
PROMETHEUS_RULE = resource(
    closed(
        {
            "groups": {
                "type": "array",
                "minItems": 1,
                "items": closed(
                    {
                        "name": STRING,
                        "interval": STRING,
                        "rules": {"type": "array", "minItems": 1, "items": ALERTING_RULE},
                    },
                    ["name", "rules"],
                ),
            }
        },
        ["groups"],
    )
)

CUSTOM_SCHEMAS: dict[tuple[str, str], Schema] = {
    ("postgresql.cnpg.io/v1", "Cluster"): CNPG_CLUSTER,
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): RABBITMQ_CLUSTER,
    ("keda.sh/v1alpha1", "ScaledObject"): SCALED_OBJECT,
    ("keda.sh/v1alpha1", "TriggerAuthentication"): TRIGGER_AUTHENTICATION,
    ("monitoring.coreos.com/v1", "PodMonitor"): POD_MONITOR,
    ("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR,
    ("monitoring.coreos.com/v1", "PrometheusRule"): PROMETHEUS_RULE,
}


def validate_custom_resource(doc: dict[str, Any]) -> None:
    jsonschema.validate(doc, CUSTOM_SCHEMAS[(doc["apiVersion"], doc["kind"])])


def test_a_misspelt_field_of_a_custom_resource_is_refused() -> None:
    cluster = {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": "registry-db"},
        "spec": {"instances": 1, "storage": {"size": "1Gi"}},
    }
    validate_custom_resource(cluster)
    with pytest.raises(jsonschema.ValidationError, match="instance"):
        validate_custom_resource({**cluster, "spec": {"instance": 1, "storage": {"size": "1Gi"}}})


def test_a_number_in_a_keda_trigger_is_refused() -> None:
    scaled = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "telemetry-writer"},
        "spec": {
            "scaleTargetRef": {"name": "telemetry-writer"},
            "triggers": [
                {"type": "rabbitmq", "metadata": {"mode": "QueueLength", "value": 50, "queueName": "q"}}
            ],
        },
    }
    with pytest.raises(jsonschema.ValidationError, match="50"):
        validate_custom_resource(scaled)
