"""Telemetry's stored batches reach the registry's worker: devices become active and seen."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pika

from tests.support.backends import AMQP_URL
from tests.support.client import PartnerClient
from tests.support.platform import OPERATOR_TOKEN, Platform
from tests.support.waiting import eventually


def publish_batch_stored(namespace: str, tenant_id: str, device_id: str, last_ts: datetime) -> None:
    event = {
        "id": str(uuid.uuid4()),
        "type": "telemetry.batch_stored",
        "occurred_at": datetime.now(UTC).isoformat(),
        "tenant_id": tenant_id,
        "data": {
            "devices": [
                {
                    "device_id": device_id,
                    "count": 12,
                    "first_ts": (last_ts - timedelta(seconds=11)).isoformat(),
                    "last_ts": last_ts.isoformat(),
                }
            ]
        },
    }
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            f"{namespace}.events",
            "telemetry.batch_stored",
            orjson.dumps(event),
            pika.BasicProperties(content_type="application/json", delivery_mode=2, message_id=event["id"]),
        )
    finally:
        connection.close()


def test_a_stored_batch_activates_the_device_and_marks_it_seen(platform: Platform) -> None:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    client = operator.as_tenant(operator.create_tenant()["api_key"])
    device = client.register_device()
    seen_at = datetime.now(UTC).replace(microsecond=0)

    publish_batch_stored(platform.env["GANTRY_BUS_NAMESPACE"], device["tenant_id"], device["id"], seen_at)

    def activated() -> dict | None:
        current = client.http.get(f"/v1/devices/{device['id']}").json()
        return current if current["state"] == "active" and current["last_seen_at"] else None

    current = eventually(activated, what="the registry worker to record the batch")
    read_at = datetime.now(UTC)
    assert current["last_seen_at"] == seen_at.isoformat().replace("+00:00", "Z")
    assert current["version"] == 2
    # The profile samples every second, so the device is online for three seconds.
    if read_at - seen_at < timedelta(seconds=2.5):
        assert current["connectivity"] == "online"
