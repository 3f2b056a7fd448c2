"""Telemetry's tables (SQLAlchemy Core); its SQL is in `queries/`."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Double,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    Uuid,
)

from services.kit.db import UtcDateTime, new_metadata

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

# A number per device for the keys of its readings (4 bytes where its id takes 16), given
# by the writer when it first stores readings of the device.
device_numbers = Table(
    "device_numbers",
    metadata,
    Column("number", Integer, primary_key=True),
    Column("device_id", Uuid(), nullable=False, unique=True),
)

# The channel sets of stored rows of readings (packing.py): `channels` lists the set's
# (channel, kind) pairs, `digest` (its SHA-256) keeps each set once, `size` is its count of
# channels, which a row holds as many readings of.
channel_sets = Table(
    "channel_sets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("channels", JSON, nullable=False),
    Column("size", SmallInteger, nullable=False),
)

# Readings, one row per device, retention tier and instant holding every value the device
# sent at that instant, packed against the row's channel set (packing.py): 16 bytes of key
# (int4, int2 and the 8-byte time align without padding to spare) and a few bytes per
# value. On PostgreSQL the table is partitioned by retention (a list partition per tier of
# `RETENTION_TIERS`) and each tier by day (created by the writer as readings arrive), so
# that expiry drops whole partitions. Rows are keyed by device first, so the table could
# be distributed by `device_number` (Citus).
readings = Table(
    "readings",
    metadata,
    Column("device_number", Integer, primary_key=True, autoincrement=False),
    # A partitioned table's key must hold its partition keys.
    Column("retention_days", SmallInteger, primary_key=True, autoincrement=False),
    Column("ts", UtcDateTime(), primary_key=True),
    Column("channel_set", Integer, nullable=False),
    Column("vals", LargeBinary, nullable=False),
    postgresql_partition_by="LIST (retention_days)",
)

# Closed days of readings compacted (compaction.py): a device's rows of a tier and UTC day
# (`day`, its start) in one compressed chunk (chunks.py) holding `rows` rows. Partitioned
# like readings, so that they expire with them. Once a day of a tier has chunks, readings
# of that day are written into them.
compacted_readings = Table(
    "compacted_readings",
    metadata,
    Column("device_number", Integer, primary_key=True, autoincrement=False),
    Column("retention_days", SmallInteger, primary_key=True, autoincrement=False),
    Column("day", UtcDateTime(), primary_key=True),
    Column("rows", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    postgresql_partition_by="LIST (retention_days)",
)

# Exact aggregates of each device's channel per UTC minute, hour and day (`resolution`, in
# seconds), added to in the transaction that stores their readings (rollups.py), and
# partitioned like readings so that they expire with them. `sum`, `sumsq`, `min` and
# `max` are those of a numeric channel; `first_*` and `last_*` hold the earliest and
# latest value in the column of the channel's type, as readings do.
rollups = Table(
    "rollups",
    metadata,
    Column("device_id", Uuid(), primary_key=True),
    Column("channel", String(64), primary_key=True),
    Column("resolution", Integer, primary_key=True, autoincrement=False),
    Column("bucket", UtcDateTime(), primary_key=True),
    Column("retention_days", SmallInteger, primary_key=True),
    Column("count", BigInteger, nullable=False),
    Column("sum", Double()),
    Column("sumsq", Double()),
    Column("min", Double()),
    Column("max", Double()),
    Column("first_ts", UtcDateTime(), nullable=False),
    Column("last_ts", UtcDateTime(), nullable=False),
    *(
        Column(f"{end}_{kind}", column_type)
        for end in ("first", "last")
        for kind, column_type in (
            ("float", Double()),
            ("int", BigInteger()),
            ("bool", Boolean()),
            ("text", Text()),
        )
    ),
    postgresql_partition_by="LIST (retention_days)",
)
metadata.info["partitioned"] = ("readings", "rollups", "compacted_readings")

# How long each tenant's readings are kept, when not the installation's default.
tenant_retention = Table(
    "tenant_retention",
    metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("days", SmallInteger, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)
