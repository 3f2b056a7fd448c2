"""What the fault scenarios look at behind the platform's back: its telemetry database, its
broker's queues, its processes' metrics, and the bodies of the errors clients saw."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pika
from pika.exceptions import ChannelClosedByBroker
from sqlalchemy import create_engine, text

from services.kit.batches import EPOCH
from services.kit.db import normalise_url
from tests.faults.streams import Attempt, Reading
from tests.support.telemetry import unpacked_readings

LOCK_TIMEOUT = "10s"
MILLISECOND = timedelta(milliseconds=1)


def stored_readings(database_url: str, device_ids: list[str]) -> Counter[Reading]:
    """How many times the readings table holds each (device, channel, ts) of the devices."""
    engine = create_engine(normalise_url(database_url))
    try:
        with engine.connect() as connection:
            readings = unpacked_readings(connection, device_ids)
    finally:
        engine.dispose()
    return Counter((str(r.device_id), r.channel, (r.ts - EPOCH) // MILLISECOND) for r in readings)


@contextmanager
def table_locked(database_url: str, table: str, mode: str = "ACCESS EXCLUSIVE") -> Iterator[None]:
    """Holds a lock on a table (and its partitions) in a transaction of its own until the
    block ends: in ACCESS EXCLUSIVE mode nobody else reads or writes it meanwhile, in
    EXCLUSIVE mode others may still read it."""
    engine = create_engine(normalise_url(database_url))
    try:
        with engine.connect() as connection, connection.begin():
            connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            connection.execute(text(f"LOCK TABLE {table} IN {mode} MODE"))
            yield
    finally:
        engine.dispose()


def waiting_for_lock(database_url: str, table: str) -> int:
    """How many sessions wait for a lock on the table of that database."""
    query = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
        " WHERE c.relname = :table AND l.database = (SELECT oid FROM pg_database"
        " WHERE datname = current_database()) AND NOT l.granted"
    )
    engine = create_engine(normalise_url(database_url))
    try:
        with engine.connect() as connection:
            return connection.execute(query, {"table": table}).scalar_one()
    finally:
        engine.dispose()


@contextmanager
def _connection(amqp_url: str) -> Iterator[pika.BlockingConnection]:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        yield connection
    finally:
        if connection.is_open:
            connection.close()


def drain_dead_letters(amqp_url: str, queue: str) -> list[str]:
    """Takes every message out of the dead-letter queue; for each, where it died and why."""
    found = []
    with _connection(amqp_url) as connection:
        channel = connection.channel()
        while True:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return found
            deaths = (properties.headers or {}).get("x-death") or [{}]
            death = deaths[0]
            found.append(f"from {death.get('queue', '?')}: {death.get('reason', '?')}, {len(body)} bytes")


def queues_without_consumers(amqp_url: str, queues: list[str]) -> dict[str, str]:
    """The named queues that no process consumes from, each with why."""
    missing = {}
    with _connection(amqp_url) as connection:
        for queue in queues:
            # A passive declaration of a missing queue closes its channel: one each.
            channel = connection.channel()
            try:
                consumers = channel.queue_declare(queue, passive=True).method.consumer_count
            except ChannelClosedByBroker as closed:
                missing[queue] = f"not declared ({closed.reply_text})"
                continue
            if consumers < 1:
                missing[queue] = "no consumer"
            channel.close()
    return missing


def delete_queues(amqp_url: str, queues: list[str]) -> None:
    """Deletes queues: the broker cancels their consumers, as when a queue goes away."""
    with _connection(amqp_url) as connection:
        channel = connection.channel()
        for queue in queues:
            channel.queue_delete(queue)


def ready_messages(amqp_url: str, queue: str) -> int:
    with _connection(amqp_url) as connection:
        return connection.channel().queue_declare(queue, passive=True).method.message_count


def gauge(metrics_url: str, name: str) -> float | None:
    """A gauge's value from a process's Prometheus endpoint; None when it does not answer."""
    try:
        page = httpx.get(metrics_url, timeout=2).text
    except httpx.HTTPError:
        return None
    for line in page.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return None


# What addresses of the platform's insides look like in an error's text: gRPC's peers
# ("ipv4:127.0.0.1:50052"), bare IP addresses, host:port pairs of this machine.
INTERNAL_ADDRESS = re.compile(r"ipv[46]:|\b\d{1,3}(?:\.\d{1,3}){3}\b|localhost|\[::1?\]", re.IGNORECASE)


def leaked_addresses(attempts: list[Attempt], ports: list[int]) -> list[str]:
    """The server errors whose bodies name an internal address or port."""
    port_pattern = re.compile(r":(?:" + "|".join(str(p) for p in ports) + r")\b") if ports else None
    leaks = []
    for attempt in attempts:
        if attempt.problem and (
            INTERNAL_ADDRESS.search(attempt.problem)
            or (port_pattern and port_pattern.search(attempt.problem))
        ):
            leaks.append(f"{attempt.status}: {attempt.problem}")
    return leaks
