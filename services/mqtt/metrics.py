"""The MQTT adapter's own Prometheus metrics, beside those every process has (services/kit/metrics.py)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

CONNECTIONS = Gauge("gantry_mqtt_connections", "Device connections open", ["version"])
CONNECTS = Counter("gantry_mqtt_connects_total", "CONNECTs answered", ["outcome"])
CLOSES = Counter("gantry_mqtt_closes_total", "Connections the adapter closed, by why", ["reason"])
MESSAGES = Counter("gantry_mqtt_messages_total", "PUBLISHes of devices handled", ["topic", "outcome"])
READINGS = Counter("gantry_mqtt_readings_total", "Readings published by devices", ["outcome"])
