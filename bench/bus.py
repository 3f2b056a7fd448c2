"""Event publishing: the platform's confirming publisher against bare pika without confirms.

Both publish the same persistent ~300-byte events to a throwaway namespace on the real
broker; `ratio` is confirmed events/s over unconfirmed messages/s.
"""

from __future__ import annotations

import os
import time
import uuid

import orjson
import pika

from services.kit.bus import ConfirmingPublisher, OutgoingMessage
from services.kit.consumers import ConsumerQueue
from services.kit.events import new_event
from tests.support.backends import AMQP_URL, bus_namespace

EVENTS = int(os.environ.get("BENCH_BUS_EVENTS", "20000"))
BATCH = 500


def sample_messages() -> list[OutgoingMessage]:
    event = new_event(
        "device.registered",
        str(uuid.uuid4()),
        {
            "device_id": str(uuid.uuid4()),
            "serial_number": "CNC-0001",
            "display_name": "Mill",
            "state": "provisioned",
            "profile_id": str(uuid.uuid4()),
            "profile_version": 1,
        },
    )
    return [
        OutgoingMessage(str(uuid.uuid4()), event.type, event.to_message(), "bench") for _ in range(EVENTS)
    ]


def rate(seconds: float) -> float:
    return round(EVENTS / seconds)


def run() -> dict:
    messages = sample_messages()
    with bus_namespace(["bench"]) as topology:
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        channel = connection.channel()
        topology.declare(channel)
        queue = topology.queue("bench")
        topology.declare_consumer_queue(channel, ConsumerQueue("bench", ("#",)))

        started = time.perf_counter()
        for message in messages:
            channel.basic_publish(
                topology.events_exchange,
                message.type,
                orjson.dumps(message.body),
                pika.BasicProperties(content_type="application/json", delivery_mode=2),
            )
        connection.process_data_events(0)
        bare = rate(time.perf_counter() - started)
        channel.queue_purge(queue)

        publisher = ConfirmingPublisher(AMQP_URL, topology)
        started = time.perf_counter()
        for offset in range(0, EVENTS, BATCH):
            publisher(messages[offset : offset + BATCH])
        confirmed = rate(time.perf_counter() - started)
        publisher.close()
        connection.close()

    print(f"bare pika, no confirms:        {bare:>8} msgs/s")
    print(f"confirming publisher (outbox): {confirmed:>8} events/s")
    return {"bare_msgs_per_s": bare, "confirmed_events_per_s": confirmed, "ratio": round(confirmed / bare, 3)}
