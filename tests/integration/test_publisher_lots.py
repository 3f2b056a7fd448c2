"""Work messages published in lots against the real RabbitMQ: each answered by whether the
broker took it, callers of many threads sharing lots, none lost or published twice."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pika
import pytest

from services.kit.bus import ConfirmingPublisher, PublishError, Topology, WorkMessage
from services.kit.confirms import Confirms, Publication
from services.telemetry.bus import READINGS
from tests.support.backends import AMQP_URL
from tests.support.telemetry import declare_readings_queue

CALLERS = 16
MESSAGES_PER_CALLER = 25


def _message(body: bytes) -> WorkMessage:
    return WorkMessage(READINGS.fed_by, str(uuid.uuid4()), body, "request-lots")


def _bodies_in(topology: Topology) -> list[bytes]:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    bodies = []
    while (message := channel.basic_get(topology.queue(READINGS.name), auto_ack=True))[0] is not None:
        bodies.append(message[2])
    connection.close()
    return bodies


def test_a_lot_answers_for_each_of_its_messages(topology: Topology) -> None:
    declare_readings_queue(topology)
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        confirms = Confirms(connection.channel())
        routed, nowhere = topology.queue(READINGS.name), topology.queue("no-such-queue")
        lot = [
            Publication("", key, b"x", pika.BasicProperties(message_id=str(uuid.uuid4()), delivery_mode=2))
            for key in (routed, nowhere, routed, nowhere, routed)
        ]
        assert confirms.publish(lot) == [True, False, True, False, True]
        # The next lot is answered on its own, with nothing left over from the last.
        assert confirms.publish(lot[:1]) == [True]
    finally:
        connection.close()
    assert len(_bodies_in(topology)) == 4


def test_callers_of_many_threads_each_get_their_own_answer(
    publisher: ConfirmingPublisher, topology: Topology
) -> None:
    declare_readings_queue(topology)
    sent = [f"{caller}/{index}".encode() for caller in range(CALLERS) for index in range(MESSAGES_PER_CALLER)]

    def send_all(caller: int) -> None:
        for index in range(MESSAGES_PER_CALLER):
            publisher.send(_message(f"{caller}/{index}".encode()))

    with ThreadPoolExecutor(CALLERS) as pool:
        list(pool.map(send_all, range(CALLERS)))
    assert sorted(_bodies_in(topology)) == sorted(sent)
    assert publisher.confirming


def test_a_message_no_queue_takes_fails_its_caller(
    publisher: ConfirmingPublisher, topology: Topology
) -> None:
    # No queue is bound to the readings exchange: the broker returns what is sent to it.
    with pytest.raises(PublishError, match="no queue took the message"):
        publisher.send(_message(b"lost"))
    assert not publisher.confirming
    declare_readings_queue(topology)
    publisher.send(_message(b"kept"))
    assert publisher.confirming
    assert _bodies_in(topology) == [b"kept"]


def test_no_lot_outlives_a_failed_connection(publisher: ConfirmingPublisher, topology: Topology) -> None:
    declare_readings_queue(topology)
    publisher.send(_message(b"first"))
    publisher._connection.close()  # as the broker does to a connection it drops
    publisher.send(_message(b"second"))
    assert _bodies_in(topology) == [b"first", b"second"]
