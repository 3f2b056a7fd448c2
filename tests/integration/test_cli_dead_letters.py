"""The CLI's dead-letter queue on the real broker: messages dead-lettered by a consumer's
rejection, replayed where they were first published, or dropped."""

from __future__ import annotations

from collections.abc import Iterator

import pika
import pytest

from services.cli.dead_letters import REPLAYS_HEADER, DeadLetterQueue, ReplayFailed, Selection
from services.kit.bus import Topology
from services.kit.consumers import ConsumerQueue
from tests.support.backends import AMQP_URL, bus_namespace
from tests.support.waiting import eventually

EVENTS = ConsumerQueue("cli.events", ("thing.happened",))
WRITER = ConsumerQueue("cli.writer", fed_by="readings")
OTHER = ConsumerQueue("cli.other", fed_by="readings")
LIMIT = 100


def connect() -> pika.BlockingConnection:
    return pika.BlockingConnection(pika.URLParameters(AMQP_URL))


@pytest.fixture
def topology() -> Iterator[Topology]:
    with bus_namespace([q.name for q in (EVENTS, WRITER, OTHER)]) as topology:
        connection = connect()
        channel = connection.channel()
        topology.declare(channel)
        for queue in (EVENTS, WRITER, OTHER):
            topology.declare_consumer_queue(channel, queue)
        try:
            yield topology
        finally:
            channel.exchange_delete(topology.exchange("readings"))
            connection.close()


@pytest.fixture
def channel() -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    connection = connect()
    try:
        opened = connection.channel()
        # Confirmed publications are in their queues when basic_publish returns.
        opened.confirm_delivery()
        yield opened
    finally:
        connection.close()


def dead_letter(
    channel: pika.adapters.blocking_connection.BlockingChannel, topology: Topology, message_id: str
) -> None:
    """Publishes an event and rejects it from its queue, as a consumer refusing it would."""
    properties = pika.BasicProperties(message_id=message_id, headers={"x-request-id": "req-1"})
    channel.basic_publish(topology.events_exchange, "thing.happened", b"{}", properties)
    reject(channel, topology.queue(EVENTS.name), topology)


def reject(
    channel: pika.adapters.blocking_connection.BlockingChannel, queue: str, topology: Topology
) -> None:
    """Rejects the next message of `queue` and waits for the broker to dead-letter it."""
    before = depth(channel, topology.dead_letter_queue)
    method, _, _ = channel.basic_get(queue)
    channel.basic_reject(method.delivery_tag, requeue=False)
    settled(channel, topology.dead_letter_queue, before + 1)


def depth(channel: pika.adapters.blocking_connection.BlockingChannel, queue: str) -> int:
    return channel.queue_declare(queue, passive=True).method.message_count


def settled(channel: pika.adapters.blocking_connection.BlockingChannel, queue: str, messages: int) -> None:
    """Waits until `queue` holds `messages` ready: the broker settles acknowledgements and
    dead-letters after it answers."""
    eventually(lambda: depth(channel, queue) == messages, 10, f"{messages} messages in {queue}")


def test_an_event_is_replayed_to_its_exchange_with_its_headers(topology: Topology, channel) -> None:
    dead_letter(channel, topology, "e-1")
    connection = connect()
    try:
        dead = DeadLetterQueue(connection, topology)
        [letter] = dead.select(Selection(message_ids=frozenset({"e-1"})), LIMIT)
        assert (letter.queue, letter.event_type, letter.reason) == (
            topology.queue(EVENTS.name), "thing.happened", "rejected",
        )  # fmt: skip
        assert dead.replay(letter) == (topology.events_exchange, "thing.happened")
    finally:
        connection.close()

    _, properties, _ = channel.basic_get(topology.queue(EVENTS.name), auto_ack=True)
    assert properties.message_id == "e-1"
    assert properties.headers["x-request-id"] == "req-1" and properties.headers[REPLAYS_HEADER] == 1
    assert "x-death" not in properties.headers
    settled(channel, topology.dead_letter_queue, 0)


def test_a_batch_of_readings_goes_back_to_its_queue_alone(topology: Topology, channel) -> None:
    channel.basic_publish(topology.exchange("readings"), "", b"{}", pika.BasicProperties(message_id="b-1"))
    channel.basic_get(topology.queue(OTHER.name), auto_ack=True)  # the other consumer took it
    reject(channel, topology.queue(WRITER.name), topology)

    connection = connect()
    try:
        dead = DeadLetterQueue(connection, topology)
        [letter] = dead.select(Selection(queue=WRITER.name), LIMIT)
        assert dead.replay(letter) == ("", topology.queue(WRITER.name))
    finally:
        connection.close()
    settled(channel, topology.queue(WRITER.name), 1)
    assert depth(channel, topology.queue(OTHER.name)) == 0


def test_a_replay_nobody_takes_leaves_the_dead_letter(topology: Topology, channel) -> None:
    dead_letter(channel, topology, "e-2")
    channel.queue_unbind(topology.queue(EVENTS.name), topology.events_exchange, "thing.happened")
    connection = connect()
    try:
        dead = DeadLetterQueue(connection, topology)
        [letter] = dead.select(Selection(event_type="thing.happened"), LIMIT)
        with pytest.raises(ReplayFailed):
            dead.replay(letter)
    finally:
        connection.close()
    settled(channel, topology.dead_letter_queue, 1)


def test_purging_some_then_all(topology: Topology, channel) -> None:
    for message_id in ("p-1", "p-2", "p-3"):
        dead_letter(channel, topology, message_id)
    connection = connect()
    try:
        dead = DeadLetterQueue(connection, topology)
        for letter in list(dead.select(Selection(message_ids=frozenset({"p-1"})), LIMIT)):
            dead.drop(letter)
    finally:
        connection.close()  # the two it read and did not drop go back
    settled(channel, topology.dead_letter_queue, 2)
    connection = connect()
    try:
        assert DeadLetterQueue(connection, topology).purge() == 2
    finally:
        connection.close()
