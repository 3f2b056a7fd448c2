"""The real PostgreSQL and RabbitMQ the tests use: throwaway databases and bus namespaces."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pika
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from services.kit.bus import FAN_OUTS, Topology
from services.kit.db import normalise_url

POSTGRES_URL = os.environ.get("GANTRY_TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
AMQP_URL = os.environ.get("GANTRY_AMQP_URL") or "amqp://guest:guest@127.0.0.1:5672/"
REDIS_URL = os.environ.get("GANTRY_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@contextmanager
def postgres_database(name: str | None = None, server_url: str = POSTGRES_URL) -> Iterator[str]:
    """A new empty database on the server of `server_url` (a role that may create
    databases), dropped afterwards; yields its URL."""
    name = name or unique_name("gantry_test")
    # No pool: the server may have restarted between the creation and the drop.
    admin = create_engine(normalise_url(server_url), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalise_url(server_url)).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def delete_redis_keys(prefix: str) -> None:
    client = redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@contextmanager
def bus_namespace(queue_names: list[str], amqp_url: str = AMQP_URL) -> Iterator[Topology]:
    """A bus namespace of its own on the broker of `amqp_url`; its exchanges and the named
    queues are deleted afterwards."""
    topology = Topology(unique_name("gantry-test"))
    try:
        yield topology
    finally:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        channel = connection.channel()
        for queue in [topology.dead_letter_queue, *(topology.queue(name) for name in queue_names)]:
            channel.queue_delete(queue)
        for exchange in [
            topology.events_exchange,
            topology.dead_letter_exchange,
            *map(topology.exchange, FAN_OUTS),
        ]:
            channel.exchange_delete(exchange)
        connection.close()
