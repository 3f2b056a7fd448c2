"""Telemetry fixtures for tests: a migrated store, devices taught to its directory, an
in-process gRPC server and the bulk writer running on a thread of the test process."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import pika
from gantry.v1 import telemetry_pb2 as pb
from gantry.v1 import telemetry_pb2_grpc
from sqlalchemy import Connection, func, select

from services.kit.batch_consumer import BatchConsumer
from services.kit.batches import EPOCH, AcceptedBatch
from services.kit.bus import ConfirmingPublisher, Topology
from services.kit.events import new_event
from services.kit.migrate import upgrade
from services.kit.store import Store
from services.telemetry import storage
from services.telemetry.api.ingest import sender
from services.telemetry.api.servicer import SERVICE_NAME, TelemetryServicer
from services.telemetry.bus import READINGS
from services.telemetry.chunks import decompress
from services.telemetry.packing import unpack
from services.telemetry.queries.interning import Interned
from services.telemetry.settings import IngestLimits, WriterSettings
from services.telemetry.usecases import compaction
from services.telemetry.usecases.bulk import BulkWriter
from services.telemetry.usecases.directory import Directory
from services.telemetry.writer import writer
from tests.support.backends import AMQP_URL
from tests.support.consumers import running_consumer
from tests.support.platform import ROOT
from tests.support.serving import serving

CHANNELS = [
    {"key": "spindle_temp", "value_type": "float", "unit": "degC", "min": -20.0, "max": 150.0},
    {"key": "spindle_rpm", "value_type": "int", "unit": "rpm", "min": 0, "max": 24000},
    {"key": "door_open", "value_type": "bool"},
    {"key": "program", "value_type": "string"},
    {"key": "mode", "value_type": "enum", "allowed_values": ["idle", "cutting", "alarm"]},
]
DEFAULT_RETENTION_DAYS = 365

Stub = telemetry_pb2_grpc.TelemetryServiceStub


@contextmanager
def telemetry_store(database_url: str, publisher: ConfirmingPublisher) -> Iterator[Store]:
    upgrade("telemetry", database_url)
    store = Store("telemetry", storage.metadata, publisher, url=database_url)
    try:
        yield store
    finally:
        store.close()


def teach_device(
    store: Store,
    tenant_id: str,
    state: str = "active",
    channels: list[dict[str, Any]] | None = None,
    device_id: str | None = None,
) -> str:
    """A new device of the tenant, as telemetry learns it from the registry's events."""
    device_id, profile_id = device_id or str(uuid.uuid4()), str(uuid.uuid4())
    directory = Directory(store.unit_of_work)
    profile = {"profile_id": profile_id, "version": 1, "channels": channels or CHANNELS}
    directory.learn(new_event("profile.published", tenant_id, profile))
    registered = {
        "device_id": device_id,
        "serial_number": f"SN-{device_id[:8]}",
        "display_name": "Mill",
        "state": "provisioned",
        "profile_id": profile_id,
        "profile_version": 1,
    }
    directory.learn(new_event("device.registered", tenant_id, registered))
    if state != "provisioned":
        changed = {"device_id": device_id, "version": 2, "previous_state": "provisioned", "state": state}
        directory.learn(new_event("device.state_changed", tenant_id, changed))
    return device_id


def declare_readings_queue(topology: Topology) -> None:
    """The writer's queue, as `make migrate` declares it."""
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    topology.declare(channel)
    topology.declare_consumer_queue(channel, READINGS)
    connection.close()


def delete_readings_queue(topology: Topology) -> None:
    """The writer's queue gone: the broker then refuses every batch."""
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        connection.channel().queue_delete(topology.queue(READINGS.name))
    finally:
        connection.close()


@contextmanager
def readings_store(database_url: str, publisher: ConfirmingPublisher, topology: Topology) -> Iterator[Store]:
    """A migrated store whose accepted readings have the writer's queue to go to."""
    with telemetry_store(database_url, publisher) as store:
        declare_readings_queue(topology)
        yield store


@contextmanager
def telemetry_server(
    store: Store, publisher: ConfirmingPublisher, limits: IngestLimits | None = None
) -> Iterator[Stub]:
    servicer = TelemetryServicer(store, sender(publisher), DEFAULT_RETENTION_DAYS, limits)

    with serving(
        telemetry_pb2_grpc.add_TelemetryServiceServicer_to_server, servicer, SERVICE_NAME
    ) as channel:
        yield Stub(channel)


# Later than any day a test stores readings of: every day partition is closed then.
FAR_FUTURE = datetime(2200, 1, 1, tzinfo=UTC)


class Compacting:
    """A telemetry stub that first compacts every day of readings, before every call: the
    answers then come from compacted days (and rows stored since the last call)."""

    def __init__(self, stub: Stub, store: Store) -> None:
        self._stub = stub
        self._store = store

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._stub, name)

        def compacted_first(*args: Any, **kwargs: Any) -> Any:
            compaction.compact_closed_days(self._store.unit_of_work, FAR_FUTURE)
            return call(*args, **kwargs)

        return compacted_first


def running_writer(store: Store, topology: Topology) -> AbstractContextManager[BatchConsumer]:
    """The bulk writer consuming on a thread until the block ends."""
    return running_consumer(writer(store, topology, WriterSettings(flush_seconds=0.05)))


def sample(ts_ms: int, **values: Any) -> pb.Sample:
    return pb.Sample(ts_ms=ts_ms, values={key: value_of(v) for key, v in values.items()})


def value_of(value: Any) -> pb.Value:
    kind = {bool: "bool_value", int: "int_value", float: "float_value", str: "string_value"}[type(value)]
    return pb.Value(**{kind: value})


_ARRAYS = {float: "float_values", int: "int_values", bool: "bool_values", str: "string_values"}
_ARRAY_TYPES = {
    "float_values": pb.DoubleArray,
    "int_values": pb.Int64Array,
    "bool_values": pb.BoolArray,
    "string_values": pb.StringArray,
}


def column(channel: str, values: list[Any], present: list[bool] | None = None) -> pb.Column:
    """A column of the array of its values' kind (floats when empty); `present` as a bitmap."""
    kind = _ARRAYS[type(values[0])] if values else "float_values"
    bitmap = bytes(
        sum(1 << bit for bit, on in enumerate(present[start : start + 8]) if on)
        for start in range(0, len(present or ()), 8)
    )
    return pb.Column(channel=channel, present=bitmap, **{kind: _ARRAY_TYPES[kind](values=values)})


def columnar_request(
    tenant_id: str, *devices: tuple[str, list[int], list[pb.Column]]
) -> pb.IngestColumnarRequest:
    return pb.IngestColumnarRequest(
        tenant_id=tenant_id,
        devices=[pb.DeviceColumns(device_id=d, ts_ms=ts, columns=columns) for d, ts, columns in devices],
    )


def ingest_request(tenant_id: str, *devices: tuple[str, list[pb.Sample]]) -> pb.IngestRequest:
    return pb.IngestRequest(
        tenant_id=tenant_id,
        devices=[pb.DeviceSamples(device_id=device_id, samples=samples) for device_id, samples in devices],
    )


def store_readings(
    store: Store, device_id: str, readings: list[tuple[str, datetime, Any]], retention_days: int = 365
) -> None:
    """(channel, ts, value) readings of the device stored through the writer's own path,
    those at one instant in one sample."""
    samples: dict[int, dict[str, Any]] = {}
    for channel, ts, value in readings:
        samples.setdefault((ts - EPOCH) // timedelta(milliseconds=1), {})[channel] = value
    batch = AcceptedBatch(
        str(uuid.uuid4()), str(uuid.uuid4()), retention_days, [(device_id, list(samples.items()))]
    )
    BulkWriter(store).store([batch])


class StoredReading(NamedTuple):
    """A stored reading as a row of its own, its value in the column of its type."""

    device_id: uuid.UUID
    channel: str
    ts: datetime
    retention_days: int
    float_value: float | None
    int_value: int | None
    bool_value: bool | None
    text_value: str | None

    @property
    def value(self) -> Any:
        return next(
            v for v in (self.float_value, self.int_value, self.bool_value, self.text_value) if v is not None
        )


_KIND_COLUMNS = {"f": 0, "i": 1, "b": 2, "s": 3}


def stored_readings(store: Store, device_ids: list[str] | None = None) -> list[StoredReading]:
    """Every stored reading (of the devices named) unpacked, by time then channel."""
    with store.engine.connect() as connection:
        return unpacked_readings(connection, device_ids)


def unpacked_readings(connection: Connection, device_ids: list[str] | None = None) -> list[StoredReading]:
    """Every stored reading (of the devices named), in rows or compacted, unpacked, by
    time then channel (rows read first, in the order the writer makes day partitions)."""
    rows = _hot_rows(connection, device_ids) + _compacted_rows(connection, device_ids)
    sets = Interned().sets(connection, {set_id for *_, set_id, _ in rows})
    found = []
    for device_id, ts, tier, set_id, vals in rows:
        channel_set = sets[set_id]
        for (channel, kind), (_, value) in zip(channel_set, unpack(channel_set, vals), strict=True):
            typed: list[Any] = [None] * 4
            typed[_KIND_COLUMNS[kind]] = value
            found.append(StoredReading(device_id, channel, ts, tier, *typed))
    return sorted(found, key=lambda r: (r.ts, r.channel))


def stored_count(store: Store, device_id: str | None = None) -> int:
    """Stored readings: each row holds as many as its channel set has channels. Rows are
    read before chunks, in the order the writer makes their day partitions."""
    table, numbers, sets = storage.readings, storage.device_numbers, storage.channel_sets
    query = select(func.coalesce(func.sum(sets.c.size), 0)).select_from(
        table.join(sets, sets.c.id == table.c.channel_set).join(
            numbers, numbers.c.number == table.c.device_number
        )
    )
    if device_id is not None:
        query = query.where(numbers.c.device_id == uuid.UUID(device_id))
    with store.engine.connect() as connection:
        hot = int(connection.execute(query).scalar_one())
        rows = _compacted_rows(connection, None if device_id is None else [device_id])
        sizes = dict(connection.execute(select(sets.c.id, sets.c.size)).all())
    return hot + sum(sizes[set_id] for *_, set_id, _ in rows)


# (device id, ts, tier, channel set id, packed values): a stored row.
_Row = tuple[uuid.UUID, datetime, int, int, bytes]


def _hot_rows(connection: Connection, device_ids: list[str] | None) -> list[_Row]:
    table, numbers = storage.readings, storage.device_numbers
    query = select(numbers.c.device_id, table.c.ts, table.c.retention_days, table.c.channel_set, table.c.vals)
    query = query.join(numbers, numbers.c.number == table.c.device_number)
    if device_ids is not None:
        query = query.where(numbers.c.device_id.in_([uuid.UUID(d) for d in device_ids]))
    return [tuple(row) for row in connection.execute(query)]  # type: ignore[misc]


def _compacted_rows(connection: Connection, device_ids: list[str] | None) -> list[_Row]:
    table, numbers = storage.compacted_readings, storage.device_numbers
    query = select(numbers.c.device_id, table.c.retention_days, table.c.data)
    query = query.join(numbers, numbers.c.number == table.c.device_number)
    if device_ids is not None:
        query = query.where(numbers.c.device_id.in_([uuid.UUID(d) for d in device_ids]))
    rows: list[_Row] = []
    for device_id, tier, data in connection.execute(query):
        chunk = decompress(data)
        for ts_us, set_id, vals in zip(chunk.ts_us.tolist(), chunk.set_ids.tolist(), chunk.vals, strict=True):
            rows.append((device_id, EPOCH + timedelta(microseconds=ts_us), tier, set_id, vals))
    return rows


def queued(topology: Topology) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        declared = connection.channel().queue_declare(topology.queue(READINGS.name), passive=True)
        return declared.method.message_count
    finally:
        connection.close()


def start_writer(database_url: str, topology: Topology) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'generated'}",
        "GANTRY_TELEMETRY_DATABASE_URL": database_url,
        "GANTRY_BUS_NAMESPACE": topology.namespace,
        "GANTRY_METRICS_PORT": "0",
        # Small flushes, so that a kill is likely to land between a commit and its acks.
        "GANTRY_TELEMETRY_FLUSH_READINGS": "300",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "services.telemetry.writer"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL
    )
