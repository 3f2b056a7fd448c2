"""Evidence of each booked machine-hour: analytics learns the slots capacity orders book
from the marketplace's order events, and once a slot has ended and its quarters have
settled, publishes what the machine did in it (capacity.slot_evidence), one event per
order, in the transaction that marks the slots reported, so that each is reported once.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from services.analytics.domain.slot_evidence import SlotEvidence, evidence_of
from services.analytics.queries import slot_evidence as sql
from services.analytics.queries.directory import is_modelled
from services.analytics.queries.performance import summed_quarters
from services.analytics.queries.slot_evidence import DueSlot
from services.analytics.usecases import Clock, UnitOfWorkFactory, utc_now
from services.kit.events import Event, new_event

BOOKING_EVENTS = ("order.placed", "order.funded", "order.cancelled", "order.disputed", "order.completed")
# Slots reported in one transaction; the next run goes on where this one stopped.
SLOTS_PER_RUN = 1000
# How long a reported slot is remembered: far longer than an order's later events take.
# One coming later still would have its slots reported again, which the marketplace,
# keeping the first evidence of each slot, ignores.
REMEMBER_REPORTED = timedelta(days=30)


class Bookings:
    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._unit_of_work = unit_of_work

    def learn(self, event: Event) -> bool:
        """Keeps the slots a capacity order holds awaiting evidence, as of the newest
        version of the order seen (a cancelled order holds none); orders of anything
        else are passed over. False when the event was already handled."""
        with self._unit_of_work() as uow:
            if not uow.claim(event):
                return False
            data = event.data
            if "device_id" in data and sql.keep_booking(
                uow.connection, data["order_id"], data["seller_id"], data["device_id"], data["version"]
            ):
                sql.await_slots(uow.connection, data["order_id"], data.get("slots", []))
            uow.commit()
        return True


def report_ended_slots(
    unit_of_work: UnitOfWorkFactory, margin: timedelta, clock: Clock = utc_now, limit: int = SLOTS_PER_RUN
) -> int:
    """Publishes the evidence of the booked slots that ended at least `margin` ago (for the
    machine's last readings to be tracked), one event per order, and marks them reported
    in the same transaction; returns how many slots were."""
    now = clock()
    with unit_of_work() as uow:
        due = sql.lock_due_slots(uow.connection, now - margin, limit)
        for _, slots in itertools.groupby(due, key=lambda slot: slot.order_id):
            uow.emit(_slot_evidence(uow.connection, list(slots), now))
        sql.mark_reported(uow.connection, due, now)
        uow.commit()
    return len(due)


def forget_reported_slots(unit_of_work: UnitOfWorkFactory, clock: Clock = utc_now) -> int:
    """Drops the slots reported longer than `REMEMBER_REPORTED` ago, and their bookings
    once none is left; returns how many slots."""
    with unit_of_work() as uow:
        forgotten = sql.forget_reported(uow.connection, clock() - REMEMBER_REPORTED)
        uow.commit()
    return forgotten


def measured_slots(connection: Connection, slots: Sequence[DueSlot]) -> list[SlotEvidence]:
    """The evidence of one order's slots (of one device, none overlapping) from the
    device's quarters, in one query; none measured of a device without a machine model."""
    first = slots[0]
    if not is_modelled(connection, first.tenant_id, first.device_id):
        return [evidence_of(slot.starts_at, slot.ends_at, None) for slot in slots]
    edges = sorted({instant for slot in slots for instant in (slot.starts_at, slot.ends_at)})
    # Each slot is one period between edges: slots are whole hours that never overlap.
    periods = summed_quarters(connection, first.tenant_id, edges, first.device_id)
    position = {instant: index for index, instant in enumerate(edges)}
    return [evidence_of(slot.starts_at, slot.ends_at, periods[position[slot.starts_at]]) for slot in slots]


def _slot_evidence(connection: Connection, slots: list[DueSlot], now: datetime) -> Event:
    first = slots[0]
    data: dict[str, Any] = {
        "order_id": first.order_id,
        "device_id": first.device_id,
        "measured_at": now.isoformat(),
        "slots": [_slot_data(evidence) for evidence in measured_slots(connection, slots)],
    }
    return new_event("capacity.slot_evidence", first.tenant_id, data)


def _slot_data(evidence: SlotEvidence) -> dict[str, Any]:
    return {
        **vars(evidence),
        "starts_at": evidence.starts_at.isoformat(),
        "ends_at": evidence.ends_at.isoformat(),
        "verdict": evidence.verdict.value,
    }
