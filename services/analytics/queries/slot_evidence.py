"""The SQL of capacity orders' booked slots awaiting evidence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, exists, select, tuple_, update

from services.analytics.storage import booked_slots, capacity_bookings
from services.kit.db import conflict_aware_insert, insert_ignoring_duplicates

SLOT = timedelta(hours=1)


@dataclass(frozen=True)
class DueSlot:
    """A booked slot that has ended, with its order's device and the device's tenant."""

    order_id: str
    tenant_id: str
    device_id: str
    starts_at: datetime
    ends_at: datetime


def keep_booking(connection: Connection, order_id: str, tenant_id: str, device_id: str, version: int) -> bool:
    """Records the order's device at the order's `version` unless as new a version is
    recorded (events may arrive out of order); returns whether it was newer."""
    statement = conflict_aware_insert(connection, capacity_bookings)
    newer = connection.execute(
        statement.on_conflict_do_update(
            index_elements=[capacity_bookings.c.order_id],
            set_={
                "tenant_id": statement.excluded.tenant_id,
                "device_id": statement.excluded.device_id,
                "order_version": statement.excluded.order_version,
            },
            where=capacity_bookings.c.order_version < statement.excluded.order_version,
        ).returning(capacity_bookings.c.order_id),
        {"order_id": order_id, "tenant_id": tenant_id, "device_id": device_id, "order_version": version},
    )
    return newer.first() is not None


def await_slots(connection: Connection, order_id: str, starts: Sequence[datetime]) -> None:
    """Makes the order's slots awaiting evidence those starting at `starts`: the others not
    yet reported are dropped (the order gave them back), and those reported stay so."""
    awaiting = booked_slots.c
    connection.execute(
        delete(booked_slots).where(
            awaiting.order_id == order_id,
            awaiting.reported_at.is_(None),
            awaiting.starts_at.not_in(list(starts)),
        )
    )
    rows = [{"order_id": order_id, "starts_at": start, "ends_at": start + SLOT} for start in starts]
    insert_ignoring_duplicates(connection, booked_slots, rows)


def lock_due_slots(connection: Connection, ended_by: datetime, limit: int) -> list[DueSlot]:
    """Up to `limit` slots not yet reported that ended by `ended_by`, by order then start,
    locked until the transaction ends; those another transaction holds are skipped, so
    that two workers never report one slot."""
    query = (
        select(
            booked_slots.c.order_id,
            capacity_bookings.c.tenant_id,
            capacity_bookings.c.device_id,
            booked_slots.c.starts_at,
            booked_slots.c.ends_at,
        )
        .join(capacity_bookings, capacity_bookings.c.order_id == booked_slots.c.order_id)
        .where(booked_slots.c.reported_at.is_(None), booked_slots.c.ends_at <= ended_by)
        .order_by(booked_slots.c.order_id, booked_slots.c.starts_at)
        .limit(limit)
        .with_for_update(of=booked_slots, skip_locked=True)
    )
    return [DueSlot(*row) for row in connection.execute(query)]


def mark_reported(connection: Connection, slots: Sequence[DueSlot], at: datetime) -> None:
    keys = [(slot.order_id, slot.starts_at) for slot in slots]
    connection.execute(
        update(booked_slots)
        .where(tuple_(booked_slots.c.order_id, booked_slots.c.starts_at).in_(keys))
        .values(reported_at=at)
    )


def forget_reported(connection: Connection, before: datetime) -> int:
    """Drops the slots reported before `before`, and the bookings left without a slot;
    returns how many slots."""
    slots = connection.execute(delete(booked_slots).where(booked_slots.c.reported_at < before)).rowcount
    unbooked = ~exists().where(booked_slots.c.order_id == capacity_bookings.c.order_id)
    connection.execute(delete(capacity_bookings).where(unbooked))
    return slots
