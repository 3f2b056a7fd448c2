"""Telemetry's tables and queries."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Double,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    Uuid,
    select,
    text,
    update,
)

from services.kit.db import UtcDateTime, insert_ignoring_duplicates, new_metadata, upsert
from services.telemetry.domain import KnownDevice
from services.telemetry.rules import ChannelRule, DeviceRules

metadata = new_metadata()

# Telemetry's own copy of what it needs from the registry, kept by events, so
# that ingest never waits on another service.
known_devices = Table(
    "known_devices",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False, index=True),
    Column("serial_number", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("registered_at", UtcDateTime(), nullable=False),
    Column("profile_id", String(36), nullable=False),
    Column("profile_version", Integer, nullable=False),
    Column("state_as_of", Integer, nullable=False),
    Column("profile_as_of", Integer, nullable=False),
)

# The channels of every profile version of the registry, which never change once published.
known_profile_versions = Table(
    "known_profile_versions",
    metadata,
    Column("profile_id", String(36), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("channels", JSON, nullable=False),
)

# Readings, one row per channel value. On PostgreSQL the table is partitioned by
# retention (a list partition per tier of `RETENTION_TIERS`) and each tier by day
# (created by the writer as readings arrive), so that expiry drops whole
# partitions. Rows are keyed by device first, so the table could be distributed
# by `device_id` (Citus). One value column is set, by the channel's value type.
readings = Table(
    "readings",
    metadata,
    Column("device_id", Uuid(), primary_key=True),
    Column("channel", String(64), primary_key=True),
    Column("ts", UtcDateTime(), primary_key=True),
    # A partitioned table's key must hold its partition keys.
    Column("retention_days", SmallInteger, primary_key=True),
    Column("float_value", Double()),
    Column("int_value", BigInteger),
    Column("bool_value", Boolean),
    Column("text_value", Text),
    postgresql_partition_by="LIST (retention_days)",
)
metadata.info["partitioned"] = ("readings",)

# How long each tenant's readings are kept, when not the installation's default.
tenant_retention = Table(
    "tenant_retention",
    metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("days", SmallInteger, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)


def add_known_device(connection: Connection, device: KnownDevice) -> None:
    insert_ignoring_duplicates(connection, known_devices, [vars(device)])


def update_known_device(
    connection: Connection, device_id: str, version: int, aspect: str, **changes: object
) -> bool:
    """Sets the `aspect` ("state" or "profile") of a device as of the registry's `version`,
    unless a newer one is known; False when the device is unknown."""
    if connection.execute(select(known_devices.c.id).where(known_devices.c.id == device_id)).first() is None:
        return False
    as_of = known_devices.c[f"{aspect}_as_of"]
    connection.execute(
        update(known_devices)
        .where(known_devices.c.id == device_id, as_of < version)
        .values({as_of: version, **{known_devices.c[k]: v for k, v in changes.items()}})
    )
    return True


def add_profile_version(
    connection: Connection, tenant_id: str, profile_id: str, version: int, channels: list
) -> None:
    row = {"profile_id": profile_id, "version": version, "tenant_id": tenant_id, "channels": channels}
    insert_ignoring_duplicates(connection, known_profile_versions, [row])


def find_known_device(connection: Connection, tenant_id: str, device_id: str) -> KnownDevice | None:
    query = select(known_devices).where(
        known_devices.c.id == device_id, known_devices.c.tenant_id == tenant_id
    )
    row = connection.execute(query).mappings().first()
    return KnownDevice(**row) if row else None


def load_device_rules(connection: Connection, device_id: str) -> DeviceRules | None:
    """The device with the channels of its profile version, or None when telemetry does
    not know both yet."""
    device, profile = known_devices, known_profile_versions
    query = select(
        device.c.tenant_id, device.c.state, device.c.state_as_of, device.c.profile_as_of, profile.c.channels
    ).join(
        profile,
        (profile.c.profile_id == device.c.profile_id) & (profile.c.version == device.c.profile_version),
    )
    row = connection.execute(query.where(device.c.id == device_id)).first()
    if row is None:
        return None
    channels = {channel["key"]: ChannelRule.from_profile(channel) for channel in row.channels}
    version = max(row.state_as_of, row.profile_as_of)
    return DeviceRules(device_id, row.tenant_id, row.state, version, channels)


def retention_days(connection: Connection, tenant_id: str) -> int | None:
    """The tenant's own retention, None for the installation's default."""
    query = select(tenant_retention.c.days).where(tenant_retention.c.tenant_id == tenant_id)
    return connection.execute(query).scalar()


def set_retention_days(connection: Connection, tenant_id: str, days: int, now: datetime) -> None:
    upsert(connection, tenant_retention, {"tenant_id": tenant_id, "days": days, "updated_at": now})


def day_partition(retention_days: int, day: date) -> str:
    return f"readings_r{retention_days}_{day:%Y%m%d}"


def ensure_day_partitions(connection: Connection, tier_days: Iterable[tuple[int, date]]) -> None:
    """Creates the day partitions of readings that rows of these (retention tier, UTC day)
    pairs go into, unless they exist; nothing to do but on PostgreSQL."""
    if connection.dialect.name != "postgresql":
        return
    for retention_days, day in sorted(set(tier_days)):
        start = datetime.combine(day, time(), UTC)
        connection.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {day_partition(retention_days, day)} "
                f"PARTITION OF readings_r{retention_days} "
                f"FOR VALUES FROM ('{start.isoformat()}') TO ('{(start + timedelta(days=1)).isoformat()}')"
            )
        )
