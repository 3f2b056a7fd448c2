"""The writer never dead-letters an acknowledged reading for a fault of its own or of the
database: only a message that is no batch, or whose data the database refuses, goes there."""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections.abc import Iterator

import orjson
import pika
import pytest
from sqlalchemy import create_engine, text

from services.kit.batches import AcceptedBatch
from services.kit.bus import ConfirmingPublisher, Topology, WorkMessage
from services.kit.db import normalise_url
from services.kit.migrate import declare_queue
from services.kit.store import Store
from services.telemetry.bus import READINGS
from tests.support.backends import AMQP_URL, postgres_database
from tests.support.telemetry import (
    declare_readings_queue,
    queued,
    running_writer,
    start_writer,
    stored_count,
    teach_device,
    telemetry_store,
)
from tests.support.waiting import eventually

TENANT = str(uuid.uuid4())
NOW_MS = int(time.time() * 1000)
WRITER_RESTARTS = 7  # more than the delivery limit of an event queue


@pytest.fixture
def postgres_store(publisher: ConfirmingPublisher, topology: Topology) -> Iterator[tuple[Store, str]]:
    with postgres_database() as url, telemetry_store(url, publisher) as telemetry:
        declare_readings_queue(topology)
        yield telemetry, url


def batch(device_id: str, start_ms: int, **values: object) -> AcceptedBatch:
    samples = [[start_ms + 1000 * i, dict(values)] for i in range(10)]
    return AcceptedBatch(str(uuid.uuid4()), TENANT, 365, [(device_id, samples)])


def send(publisher: ConfirmingPublisher, *batches: AcceptedBatch) -> None:
    for accepted in batches:
        publisher.send(WorkMessage(READINGS.fed_by, accepted.id, accepted.encode(), ""))


def dead_letters(topology: Topology) -> list[tuple[pika.BasicProperties, bytes]]:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    messages = []
    while (delivery := channel.basic_get(topology.dead_letter_queue, auto_ack=True))[0] is not None:
        messages.append((delivery[1], delivery[2]))
    connection.close()
    return messages


def unacknowledged(topology: Topology) -> bool:
    """Whether every message on the readings queue is held by a consumer."""
    return queued(topology) == 0


def test_a_writer_restarted_again_and_again_while_the_table_is_locked_dead_letters_nothing(
    postgres_store: tuple[Store, str], publisher: ConfirmingPublisher, topology: Topology
) -> None:
    store, url = postgres_store
    device = teach_device(store, TENANT)
    send(publisher, *(batch(device, NOW_MS - 600_000 + 10_000 * i, spindle_temp=21.5) for i in range(5)))
    locker = create_engine(normalise_url(url))
    with locker.connect() as lock:
        lock.execute(text("LOCK TABLE readings IN ACCESS EXCLUSIVE MODE"))
        for _ in range(WRITER_RESTARTS):
            writer = start_writer(url, topology)
            try:
                eventually(lambda: unacknowledged(topology), what="the writer to hold the batches")
            finally:
                writer.send_signal(signal.SIGKILL)
                writer.wait(10)
            eventually(lambda: queued(topology) == 5, what="the batches back on the queue")
        lock.rollback()
    locker.dispose()

    writer = start_writer(url, topology)
    try:
        eventually(lambda: stored_count(store, device) == 5 * 10, 30, "every acknowledged reading stored")
    finally:
        stop(writer)
    assert dead_letters(topology) == []


def test_a_batch_the_database_refuses_is_dead_lettered_alone(
    postgres_store: tuple[Store, str], publisher: ConfirmingPublisher, topology: Topology
) -> None:
    store, _ = postgres_store
    device = teach_device(store, TENANT)
    # PostgreSQL refuses a NUL in text: ingest never accepts one, so the batch breaks
    # the queue's contract in a way only the database sees.
    refused = batch(device, NOW_MS - 300_000, program="O1000\x00")
    good = [batch(device, NOW_MS - 200_000 + 50_000 * i, program="O2000") for i in range(2)]
    send(publisher, good[0], refused, good[1])

    with running_writer(store, topology):
        eventually(lambda: stored_count(store, device) == 20, what="the good batches stored")
        dead = eventually(lambda: dead_letters(topology), what="the refused batch dead-lettered")

    assert [orjson.loads(body)["id"] for _, body in dead] == [refused.id]
    assert dead[0][0].headers["x-death"][0]["reason"] == "rejected"
    assert queued(topology) == 0


def test_a_changed_readings_queue_is_declared_anew_with_its_messages(topology: Topology) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    channel.confirm_delivery()
    topology.declare(channel)
    queue = topology.queue(READINGS.name)
    # As releases before this one declared it: with a delivery limit.
    earlier = {**topology.consumer_queue_arguments(["*"]), "x-delivery-limit": 5}
    channel.queue_declare(queue, durable=True, arguments=earlier)
    bodies = [f"batch {i}".encode() for i in range(3)]
    for body in bodies:
        channel.basic_publish(
            "", queue, body, pika.BasicProperties(delivery_mode=2, message_id=body.decode())
        )

    declare_queue(connection, topology, READINGS)

    channel = connection.channel()
    channel.queue_declare(queue, durable=True, arguments=topology.consumer_queue_arguments(()))
    kept = [channel.basic_get(queue, auto_ack=True) for _ in bodies]
    assert [(properties.message_id, body) for _, properties, body in kept] == [
        (b.decode(), b) for b in bodies
    ]
    with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="NOT_FOUND"):
        channel.queue_declare(f"{queue}.migrating", passive=True)
    connection.close()


def stop(writer: subprocess.Popen) -> None:
    writer.send_signal(signal.SIGTERM)
    try:
        writer.wait(20)
    except subprocess.TimeoutExpired:
        writer.kill()
        writer.wait(10)
