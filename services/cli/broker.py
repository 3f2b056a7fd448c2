"""The broker as the CLI sees it: a connection, and the depth of each queue of the
installation. Depths and consumers come over AMQP; unacknowledged counts only from the
management API, when `GANTRY_RABBITMQ_MANAGEMENT_URL` offers it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from urllib.parse import quote

import httpx
import pika
from pika.exceptions import AMQPConnectionError, ChannelClosedByBroker

from services.cli import settings
from services.cli.output import CliError, Exit
from services.kit import platform
from services.kit.bus import Topology
from services.kit.settings import amqp_url

NOT_FOUND = 404


@dataclass(frozen=True)
class QueueStats:
    name: str
    # Messages waiting for a consumer (all of them when unacknowledged ones are unknown:
    # AMQP counts only those ready).
    ready: int | None = None
    unacknowledged: int | None = None
    consumers: int | None = None
    problem: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@contextlib.contextmanager
def connection() -> Iterator[pika.BlockingConnection]:
    try:
        opened = pika.BlockingConnection(pika.URLParameters(amqp_url()))
    except AMQPConnectionError as error:
        raise CliError(Exit.UNREACHABLE, f"RabbitMQ did not answer: {error!r}") from error
    try:
        yield opened
    finally:
        with contextlib.suppress(Exception):
            opened.close()


def queue_names(topology: Topology) -> list[str]:
    """The dead-letter queue, then every queue a service of the platform consumes."""
    consumed = platform.consumer_queues([service.name for service in platform.SERVICES])
    return [topology.dead_letter_queue, *(topology.queue(queue.name) for queue in consumed)]


def queue_stats(names: list[str]) -> list[QueueStats]:
    management = settings.rabbitmq_management_url()
    return _from_management(management, names) if management else _from_amqp(names)


def _from_amqp(names: list[str]) -> list[QueueStats]:
    stats = []
    with connection() as opened:
        channel = opened.channel()
        for name in names:
            try:
                declared = channel.queue_declare(name, passive=True).method
            except ChannelClosedByBroker as error:
                if error.reply_code != NOT_FOUND:
                    raise
                stats.append(QueueStats(name, problem="missing (run the migrations)"))
                channel = opened.channel()
                continue
            stats.append(QueueStats(name, declared.message_count, None, declared.consumer_count))
    return stats


def _from_management(base_url: str, names: list[str]) -> list[QueueStats]:
    vhost = quote(pika.URLParameters(amqp_url()).virtual_host, safe="")
    url = f"{base_url}/api/queues/{vhost}?columns=name,messages_ready,messages_unacknowledged,consumers"
    try:
        reply = httpx.get(url, timeout=settings.HTTP_TIMEOUT_SECONDS)
        reply.raise_for_status()
    except httpx.HTTPError as error:
        raise CliError(Exit.UNREACHABLE, f"RabbitMQ's management API did not answer: {error}") from error
    found = {queue["name"]: queue for queue in reply.json()}
    return [
        QueueStats(name, q.get("messages_ready"), q.get("messages_unacknowledged"), q.get("consumers"))
        if (q := found.get(name))
        else QueueStats(name, problem="missing (run the migrations)")
        for name in names
    ]
