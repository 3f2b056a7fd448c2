"""Applies each service's Alembic migrations to its own database.

Usage: python -m services.kit.migrate [SERVICE ...]   (default: every service)

Also declares the message bus (exchanges and the consumer queues of those services).
The services, their migrations and their queues are those of `services.kit.platform`.
"""

from __future__ import annotations

import sys

import pika
from alembic import command
from alembic.config import Config
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import ChannelClosedByBroker

from services.kit import platform, settings
from services.kit.bus import QUORUM, Topology
from services.kit.consumers import ConsumerQueue
from services.kit.db import normalise_url

PRECONDITION_FAILED = 406


def alembic_config(service: str, database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(platform.service(service).migrations))
    url = normalise_url(database_url or settings.database_url(service))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(service: str, database_url: str | None = None) -> None:
    command.upgrade(alembic_config(service, database_url), "head")


def declare_bus(services: list[str]) -> list[str]:
    """Declares the exchanges and every queue `services` consume, so that events
    published before a worker's first start wait for it instead of being dropped."""
    topology = Topology.from_env()
    consumers = platform.consumer_queues(services)
    connection = pika.BlockingConnection(pika.URLParameters(settings.amqp_url()))
    try:
        topology.declare(connection.channel())
        for queue in consumers:
            declare_queue(connection, topology, queue)
    finally:
        connection.close()
    return [topology.queue(queue.name) for queue in consumers]


def declare_queue(connection: pika.BlockingConnection, topology: Topology, consumer: ConsumerQueue) -> None:
    """Declares a consumer's queue. A queue declared earlier with other arguments (a
    release changed them; RabbitMQ cannot change a queue's arguments) is declared anew,
    its messages moved to a holding queue and back, so that none is lost. That needs
    the queue's consumers and publishers stopped: it refuses while a consumer holds
    messages, which would go with the old queue."""
    queue = topology.queue(consumer.name)
    holding = f"{queue}.migrating"
    try:
        topology.declare_consumer_queue(connection.channel(), consumer)
    except ChannelClosedByBroker as error:
        if error.reply_code != PRECONDITION_FAILED:
            raise
        channel = connection.channel()
        if channel.queue_declare(queue, passive=True).method.consumer_count:
            raise SystemExit(
                f"queue {queue} must be declared anew: stop its consumers and publishers first"
            ) from None
        channel.confirm_delivery()
        channel.queue_declare(holding, durable=True, arguments=QUORUM)
        _move(channel, queue, holding)
        # Quorum queues cannot be deleted only if empty: what a publisher sent since the
        # move would be lost, and is at least reported.
        lost = channel.queue_delete(queue).method.message_count
        if lost:
            print(f"queue {queue}: {lost} messages sent during its migration were lost", file=sys.stderr)
        topology.declare_consumer_queue(channel, consumer)
    # Also finishes a run that stopped half-way, its messages still held.
    _empty_into(connection, holding, queue)


def _empty_into(connection: pika.BlockingConnection, holding: str, queue: str) -> None:
    channel = connection.channel()
    try:
        channel.queue_declare(holding, passive=True)
    except ChannelClosedByBroker:
        return  # nothing held
    channel.confirm_delivery()
    moved = _move(channel, holding, queue)
    channel.queue_delete(holding)
    channel.close()
    print(f"queue {queue}: declared anew, {moved} messages kept")


def _move(channel: BlockingChannel, source: str, target: str) -> int:
    """Moves every message of `source` to `target`, each confirmed before it leaves `source`."""
    moved = 0
    while True:
        method, properties, body = channel.basic_get(source)
        if method is None:
            return moved
        # The count of deliveries belongs to the queue the message leaves.
        (properties.headers or {}).pop("x-delivery-count", None)
        channel.basic_publish("", target, body, properties, mandatory=True)
        channel.basic_ack(method.delivery_tag)
        moved += 1


def main(argv: list[str]) -> None:
    services = argv or [service.name for service in platform.SERVICES]
    for service in services:
        upgrade(service)
        print(f"{service}: migrated")
    for queue in declare_bus(services):
        print(f"queue {queue}: declared")


if __name__ == "__main__":
    main(sys.argv[1:])
