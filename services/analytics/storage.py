"""Analytics's tables (SQLAlchemy Core); its SQL is in `queries/`."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)

from services.kit.db import UtcDateTime, new_metadata

metadata = new_metadata()

# Counters that number changes in commit order: a writer increments its row in the
# transaction of the change and stamps the changed rows with the new value, and the row
# lock makes the numbers commit in order. A reader that remembers the last number it
# saw then misses no change (`rules` for alarm_rules, `devices` for known_devices).
revisions = Table(
    "revisions",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# Analytics's own copy of the registry's devices, kept by events: which rules watch a
# device (profile, labels) and its per-machine thresholds (attributes).
known_devices = Table(
    "known_devices",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False, index=True),
    Column("profile_id", String(36), nullable=False),
    Column("state", String(16), nullable=False),
    Column("labels", JSON, nullable=False),
    Column("attributes", JSON, nullable=False),
    Column("site", String(200), nullable=False, server_default=""),
    # The registry's device version each aspect reflects: events may come out of order.
    Column("details_as_of", Integer, nullable=False),
    Column("state_as_of", Integer, nullable=False),
    Column("revision", BigInteger, nullable=False, index=True),
)

alarm_rules = Table(
    "alarm_rules",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("profile_id", String(36), nullable=False),
    Column("name", String(200), nullable=False),
    # labels, create and clear, as `queries/rules.py` writes them.
    Column("definition", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("revision", BigInteger, nullable=False, index=True),
    Index("ix_alarm_rules_tenant_profile", "tenant_id", "profile_id", "id"),
)

alarms = Table(
    "alarms",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("device_id", String(36), nullable=False),
    Column("rule_id", String(36), nullable=False),
    Column("rule_version", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("severity", SmallInteger, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("acknowledged", Boolean, nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("cleared_at", UtcDateTime()),
    Column("cleared_by", String(200), nullable=False),
    Column("acknowledged_at", UtcDateTime()),
    Column("acknowledged_by", String(200), nullable=False),
    Column("raised_by", JSON, nullable=False),
    # [[severity, iso time], ...] and [{"author", "text", "at"}, ...]
    Column("severity_history", JSON, nullable=False),
    Column("comments", JSON, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    # At most one active alarm per (device, rule), whoever races to raise it.
    Index(
        "uq_alarms_active_device_rule",
        "device_id",
        "rule_id",
        unique=True,
        postgresql_where=text("active"),
        sqlite_where=text("active"),
    ),
    Index("ix_alarms_tenant_started", "tenant_id", "started_at", "id"),
)

# The evaluator's state of each device: latest values and the progress of every rule
# watching it, committed with the alarms it raised and the batches it came from.
device_states = Table(
    "device_states",
    metadata,
    Column("device_id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("state", LargeBinary, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# Batches of readings the evaluator has applied: a batch delivered again is skipped.
processed_batches = Table(
    "processed_batches",
    metadata,
    # A batch's id, followed by "/<partition>" for a partition other than the first.
    Column("id", String(64), primary_key=True),
    Column("processed_at", UtcDateTime(), nullable=False, index=True),
)

# Readings accepted per tenant and minute, counted from the stream for the overview. Each
# evaluator partition counts in rows of its own, and ingest's rejections in others again, so
# that the evaluators' flushes never wait on each other's row locks.
readings_per_minute = Table(
    "readings_per_minute",
    metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("minute", UtcDateTime(), primary_key=True),
    Column("counted_by", SmallInteger, primary_key=True),
    Column("accepted", BigInteger, nullable=False),
    Column("rejected", BigInteger, nullable=False),
)

# The `counted_by` of the rejections telemetry reports; evaluator partitions count by index.
REJECTIONS_COUNTER = -1

# When each device last sent an accepted reading (by the reading's own time), for the
# overview's connectivity.
device_activity = Table(
    "device_activity",
    metadata,
    Column("device_id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False, index=True),
    Column("last_reading_at", UtcDateTime(), nullable=False),
)

# --- Webhooks -------------------------------------------------------------------

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False, index=True),
    Column("url", String(2048), nullable=False),
    Column("event_types", JSON, nullable=False),
    # Kept to sign deliveries; shown to the tenant once, at creation.
    Column("secret", String(128), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("failing_since", UtcDateTime()),
    Column("deleted", Boolean, nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("webhook_id", String(36), nullable=False),
    Column("tenant_id", String(36), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    # pending, delivered, abandoned
    Column("state", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("next_attempt_at", UtcDateTime()),
    Column("attempts", Integer, nullable=False),
    Index("uq_webhook_deliveries_event", "webhook_id", "event_id", unique=True),
    Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
    Index("ix_webhook_deliveries_listing", "webhook_id", "created_at", "id"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("delivery_id", String(36), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("status_code", SmallInteger, nullable=False),
    Column("error", String(500), nullable=False),
    Column("duration_ms", Integer, nullable=False),
)

# Machine models (per profile) and site calendars (per site): see domain/plant_settings.py.
plant_settings = Table(
    "plant_settings",
    metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("definition", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("revision", BigInteger, nullable=False, index=True),
)

# Each device's machine tracker between flushes (domain/timeline.py), for the version of
# its profile's machine model it follows.
machine_trackers = Table(
    "machine_trackers",
    metadata,
    Column("device_id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("model_version", Integer, nullable=False),
    Column("state", LargeBinary, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    # How many flushes have changed it: what a measurement of the machine rests on.
    Column("changes", BigInteger, nullable=False, server_default="0"),
)

# The readings each machine's tracker took, in records numbered per machine
# (domain/machine_log.py), kept for a late reading to be replayed in its place. Records
# are written in time order, so a BRIN index finds the old ones to forget.
machine_log = Table(
    "machine_log",
    metadata,
    Column("device_id", String(36), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("first_ts", BigInteger, nullable=False),
    Column("last_ts", BigInteger, nullable=False),
    Column("record", LargeBinary, nullable=False),
    Index("ix_machine_log_last_ts", "last_ts", postgresql_using="brin"),
)

# What each machine did per UTC quarter hour (domain/performance.py: the inputs but PBT
# and the unreported rest, which the plan gives a period when it is asked for), summed
# flush after flush. Every shift (they start on quarter hours) and every local hour, day
# and week of any zone in use is a whole number of quarters.
QUARTER_INPUTS = (
    "apt",
    "asut",
    "adet",
    "adot",
    "pdot",
    "unplanned_producing",
    "idle_outside_plan",
    "operating",
    "pq",
    "sq",
    "unplanned_pq",
    "ideal_production",
    "failures",
    "restorations",
    "restoration",
)
COUNTED_INPUTS = frozenset({"failures", "restorations"})
performance_quarters = Table(
    "performance_quarters",
    metadata,
    Column("device_id", String(36), primary_key=True),
    Column("start", UtcDateTime(), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("site", String(200), nullable=False),
    *(
        Column(name, BigInteger if name in COUNTED_INPUTS else Float, nullable=False)
        for name in QUARTER_INPUTS
    ),
    Index("ix_performance_quarters_tenant_start", "tenant_id", "start"),
    Index("ix_performance_quarters_tenant_site_start", "tenant_id", "site", "start"),
)

# What each device's last `capacity.measured` was measured from (usecases/capacity.py):
# the window's end, the revisions of the device, its model and its site's calendar, and
# how many times its tracker changed. A device is measured again only once one of them moves.
capacity_publications = Table(
    "capacity_publications",
    metadata,
    Column("device_id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("measured_from", String(200), nullable=False),
    Column("published_at", UtcDateTime(), nullable=False),
)

# --- Evidence of booked machine-hours -----------------------------------------------

# The capacity orders whose booked slots await evidence, learnt from the marketplace's
# order events: the device and its tenant (the seller) at the order's newest version,
# kept after a cancellation so that an older event arriving late books nothing again.
capacity_bookings = Table(
    "capacity_bookings",
    metadata,
    Column("order_id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("device_id", String(36), nullable=False),
    Column("order_version", Integer, nullable=False),
)

# Each booked slot of those orders; reported_at is set in the transaction that publishes
# its evidence (capacity.slot_evidence), so that it is reported once.
booked_slots = Table(
    "booked_slots",
    metadata,
    Column("order_id", String(36), primary_key=True),
    Column("starts_at", UtcDateTime(), primary_key=True),
    Column("ends_at", UtcDateTime(), nullable=False),
    Column("reported_at", UtcDateTime()),
    Index(
        "ix_booked_slots_awaiting",
        "ends_at",
        postgresql_where=text("reported_at IS NULL"),
        sqlite_where=text("reported_at IS NULL"),
    ),
)
