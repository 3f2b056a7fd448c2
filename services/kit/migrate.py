"""Applies each service's Alembic migrations to its own database.

Usage: python -m services.kit.migrate [SERVICE ...]   (default: every service)

Also declares the message bus (exchanges and the consumer queues of those services).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pika
from alembic import command
from alembic.config import Config

from services.kit import settings
from services.kit.bus import Topology
from services.kit.db import normalise_url

SERVICES_ROOT = Path(__file__).resolve().parent.parent


def alembic_config(service: str, database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SERVICES_ROOT / service / "migrations"))
    url = normalise_url(database_url or settings.database_url(service))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(service: str, database_url: str | None = None) -> None:
    command.upgrade(alembic_config(service, database_url), "head")


def declare_bus(services: list[str]) -> list[str]:
    """Declares the exchanges and every consumer queue of `services`' workers, so that
    events published before a worker's first start wait for it instead of being dropped."""
    with warnings.catch_warnings():
        # Imported here, not at the top: only declaring the bus needs the worker
        # definitions, and nameko's import announces eventlet's retirement.
        warnings.simplefilter("ignore")
        from services.kit.worker import declared_consumers

    topology = Topology.from_env()
    consumers = declared_consumers([f"services.{service}.worker" for service in services])
    connection = pika.BlockingConnection(pika.URLParameters(settings.amqp_url()))
    try:
        channel = connection.channel()
        topology.declare(channel)
        for queue, event_types in consumers:
            topology.declare_consumer_queue(channel, queue, event_types)
    finally:
        connection.close()
    return [topology.queue(queue) for queue, _ in consumers]


def main(argv: list[str]) -> None:
    services = argv or list(settings.SERVICES)
    for service in services:
        if service not in settings.SERVICES:
            raise SystemExit(f"unknown service {service!r}; one of {', '.join(settings.SERVICES)}")
        upgrade(service)
        print(f"{service}: migrated")
    for queue in declare_bus(services):
        print(f"queue {queue}: declared")


if __name__ == "__main__":
    main(sys.argv[1:])
