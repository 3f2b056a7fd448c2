"""Machine-hours: a capacity listing's hourly slots, opened by its seller over a period typed
in the reader's zone, and booked by a buyer as a run of consecutive free hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gantry.v1 import marketplace_pb2 as pb
from google.protobuf.timestamp_pb2 import Timestamp

from services.console.backend import ask
from services.console.market.entry import Entry
from services.console.plant_values import moment_of
from services.kit.grpc_clients import Backends

SLOT = timedelta(hours=1)
# How far ahead a buyer is offered free hours.
BOOKING_HORIZON = timedelta(days=7)


async def free_hours(backends: Backends, tenant_id: str, listing_id: str) -> list[datetime]:
    """The starts of the listing's unbooked slots from this hour to a week ahead."""
    now = datetime.now(UTC)
    start, end = Timestamp(), Timestamp()
    start.FromDatetime(now)
    end.FromDatetime(now + BOOKING_HORIZON)
    found = await ask(
        backends.marketplace.ListFreeSlots,
        pb.ListFreeSlotsRequest(tenant_id=tenant_id, listing_id=listing_id, start=start, end=end),
    )
    return [start for slot in found.slots if (start := moment_of(slot.starts_at)) is not None]


def booked_hours(entry: Entry, hours: int) -> list[Timestamp]:
    """The slots a booking form names: `hours` consecutive hours from the first chosen (its
    start in epoch seconds); none for a form of anything but machine-hours."""
    if not entry.text("first_slot"):
        return []
    first = entry.whole("first_slot")
    if not 0 < hours <= BOOKING_HORIZON // SLOT:
        entry.wrong.add("quantity")
        return []
    slots = []
    for hour in range(hours):
        slot = Timestamp()
        slot.FromSeconds(first + hour * int(SLOT.total_seconds()))
        slots.append(slot)
    return slots
