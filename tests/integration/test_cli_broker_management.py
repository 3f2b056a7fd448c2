"""Queue depths, unacknowledged messages and consumers from RabbitMQ's real management API,
as `gantry status` (and KEDA in production) read them."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import httpx
import pika
import pytest

from services.cli import broker
from services.kit.bus import Topology
from services.kit.consumers import ConsumerQueue
from tests.support.backends import AMQP_URL, bus_namespace
from tests.support.waiting import eventually

MANAGEMENT_URL = "http://guest:guest@127.0.0.1:15672"
WORK = ConsumerQueue("cli.management", fed_by="readings")
# The management API refreshes its statistics every 5 s by default.
STATISTICS_SECONDS = 30.0


def answers() -> bool:
    try:
        return httpx.get(f"{MANAGEMENT_URL}/api/overview", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def management_api() -> str:
    """The local broker's management API, its plugin enabled where this machine lets us."""
    if not answers():
        plugins = shutil.which("rabbitmq-plugins")
        if plugins is None:
            pytest.skip("RabbitMQ's management API is off: run `rabbitmq-plugins enable rabbitmq_management`")
        subprocess.run(
            [plugins, "enable", "rabbitmq_management"], check=True, capture_output=True, timeout=120
        )
        eventually(answers, 60, "the management API to answer")
    return MANAGEMENT_URL


@pytest.fixture
def topology() -> Iterator[Topology]:
    with bus_namespace([WORK.name]) as topology:
        yield topology


def test_unacknowledged_messages_and_consumers_are_counted(
    management_api: str, topology: Topology, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GANTRY_RABBITMQ_MANAGEMENT_URL", management_api)
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        topology.declare(channel)
        topology.declare_consumer_queue(channel, WORK)
        queue = topology.queue(WORK.name)
        for body in (b"1", b"2", b"3", b"4", b"5"):
            channel.basic_publish(topology.exchange("readings"), "", body)
        consumer = connection.channel()
        consumer.basic_qos(prefetch_count=2)
        consumer.basic_consume(queue, lambda *_: None)
        # Two delivered and held without an acknowledgement, three ready.
        held = broker.QueueStats(queue, 3, 2, 1)
        stats = eventually(
            lambda: (found := broker.queue_stats([queue, topology.queue("gone")]))[0] == held and found,
            STATISTICS_SECONDS,
            "the management API's statistics",
        )
        assert stats[1].problem == "missing (run the migrations)"
    finally:
        connection.close()
