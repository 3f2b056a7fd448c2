"""Messages that cannot be handled end in the dead-letter queue instead of looping."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pika

from tests.support.backends import AMQP_URL
from tests.support.platform import Platform
from tests.support.waiting import eventually


def publish(namespace: str, routing_key: str, body: dict, message_id: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            f"{namespace}.events",
            routing_key,
            orjson.dumps(body),
            pika.BasicProperties(content_type="application/json", delivery_mode=2, message_id=message_id),
        )
    finally:
        connection.close()


def drain(queue: str, into: dict[str, dict]) -> dict[str, dict]:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        while True:
            method, properties, _ = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return into
            into[properties.message_id] = properties.headers or {}
    finally:
        connection.close()


def test_poison_and_repeatedly_failing_messages_are_dead_lettered(platform: Platform) -> None:
    namespace = platform.env["GANTRY_BUS_NAMESPACE"]
    poison_id, failing_id = str(uuid.uuid4()), str(uuid.uuid4())
    # Breaks the event contract: rejected at once, never handled.
    publish(namespace, "device.registered", {"not": "an event"}, poison_id)
    # Honours the contract but cannot be stored (a device must belong to a tenant):
    # the handler fails on every delivery until the delivery limit.
    failing = {
        "id": failing_id,
        "type": "device.registered",
        "occurred_at": datetime.now(UTC).isoformat(),
        "tenant_id": None,
        "data": {
            "device_id": str(uuid.uuid4()),
            "serial_number": "X-1",
            "display_name": "X",
            "state": "provisioned",
            "profile_id": "p",
            "profile_version": 1,
        },
    }
    publish(namespace, "device.registered", failing, failing_id)

    dead: dict[str, dict] = {}
    eventually(
        lambda: {poison_id, failing_id} <= drain(f"{namespace}.dead-letter", dead).keys(),
        timeout=30,
        what="both messages in the dead-letter queue",
    )
    assert dead[poison_id]["x-death"][0]["reason"] == "rejected"
    assert dead[failing_id]["x-death"][0]["reason"] == "delivery_limit"
    assert platform.processes["telemetry-worker"].poll() is None
