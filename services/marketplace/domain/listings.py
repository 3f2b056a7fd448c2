"""Listings and their rules, in plain Python.

A listing is drafted, published (visible to every tenant), paused and published
again, and finally closed, which nothing undoes. What it must name depends on its
kind: machine-hours (capacity) are sold by the hour of one registered device and
booked by slot; products are sold by the piece or kilogram from stock; a capability
(a manufacturing service) has neither device nor stock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from services.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument
from services.marketplace.domain.catalogue import ListingKind, ListingStatus, Unit

_S = ListingStatus
TRANSITIONS: dict[ListingStatus, frozenset[ListingStatus]] = {
    _S.DRAFT: frozenset({_S.PUBLISHED, _S.CLOSED}),
    _S.PUBLISHED: frozenset({_S.PAUSED, _S.CLOSED}),
    _S.PAUSED: frozenset({_S.PUBLISHED, _S.CLOSED}),
    _S.CLOSED: frozenset(),
}

UNITS: dict[ListingKind, frozenset[Unit]] = {
    ListingKind.CAPABILITY: frozenset(Unit),
    ListingKind.CAPACITY: frozenset({Unit.HOUR}),
    ListingKind.PRODUCT: frozenset({Unit.PIECE, Unit.KG}),
}

SLOT = timedelta(hours=1)
# Ninety days of hours: what one call may open, so that one request stays one small write.
MAX_SLOTS = 24 * 90
# Capacity is sold for the foreseeable future, not to the end of the calendar.
LATEST_SLOT_END = datetime(2200, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class CapacityMeasurement:
    """How a capacity listing's device was used over [start, end), as the platform measured
    it from the machine's telemetry, not as its seller claims; None where undefined."""

    start: datetime
    end: datetime
    measured_at: datetime
    utilisation: float
    idle_hours_per_week: float
    oee: float | None
    mtbf_seconds: float | None
    # Measured idle hours of the listing's own free slots of the coming week; None where
    # not asked for (reads made to change the listing or its orders).
    idle_hours_next_week: float | None = None


@dataclass(frozen=True)
class Listing:
    """A row of `listings`; prices in integer minor units of `currency`."""

    id: str
    seller_id: str
    kind: ListingKind
    title: str
    description: str
    category: str
    price: int
    currency: str
    unit: Unit
    min_order_quantity: int
    lead_time_days: int
    ship_from: str
    status: ListingStatus
    version: int
    created_at: datetime
    updated_at: datetime
    device_id: str | None = None
    stock: int | None = None
    # Not a column: read with the listing, for its seller's device alone.
    measured: CapacityMeasurement | None = None

    def visible_to(self, tenant_id: str) -> bool:
        """Published listings are the market's; any other is seen by its seller alone."""
        return self.status is ListingStatus.PUBLISHED or tenant_id == self.seller_id

    def moved_to(self, status: ListingStatus, now: datetime) -> Listing:
        """This listing in `status`; FailedPrecondition when its lifecycle forbids the move."""
        if status not in TRANSITIONS[self.status]:
            raise FailedPrecondition(f"a {self.status} listing cannot become {status}")
        return replace(self, status=status, version=self.version + 1, updated_at=now)

    def changed(self, changes: dict[str, Any], now: datetime) -> Listing:
        """This listing with its seller's `changes`, still obeying its kind's rules; a
        closed listing is a record of what was sold and no longer changes."""
        if self.status is ListingStatus.CLOSED:
            raise FailedPrecondition("a closed listing cannot change")
        return require_kind_rules(replace(self, **changes, version=self.version + 1, updated_at=now))


@dataclass(frozen=True)
class Slot:
    """One bookable machine-hour of a capacity listing; free while `order_id` is None."""

    listing_id: str
    starts_at: datetime
    ends_at: datetime
    order_id: str | None = None


def draft(listing_id: str, seller_id: str, fields: dict[str, Any], now: datetime) -> Listing:
    """A new listing of `fields`, a draft until its seller publishes it."""
    listing = Listing(
        id=listing_id,
        seller_id=seller_id,
        status=ListingStatus.DRAFT,
        version=1,
        created_at=now,
        updated_at=now,
        **fields,
    )
    return require_kind_rules(listing)


def require_kind_rules(listing: Listing) -> Listing:
    """`listing`, or InvalidArgument naming every field its kind forbids or lacks."""
    kind = listing.kind
    violations = []
    if listing.unit not in UNITS[kind]:
        allowed = " or ".join(sorted(UNITS[kind]))
        violations.append(FieldViolation("unit", f"a {kind} listing is sold by the {allowed}"))
    if kind is ListingKind.CAPACITY and listing.device_id is None:
        violations.append(FieldViolation("device_id", "a capacity listing names the device it sells"))
    if kind is not ListingKind.CAPACITY and listing.device_id is not None:
        violations.append(FieldViolation("device_id", "only a capacity listing names a device"))
    if kind is ListingKind.PRODUCT and listing.stock is None:
        violations.append(FieldViolation("stock", "a product listing states its stock"))
    if kind is not ListingKind.PRODUCT and listing.stock is not None:
        violations.append(FieldViolation("stock", "only a product listing has stock"))
    if violations:
        raise InvalidArgument(violations)
    return listing


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    """The starts of the whole UTC hours that [start, end) touches: slots are booked by
    the hour, so a span is widened to the hours it covers rather than cut short."""
    for field, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise InvalidArgument([FieldViolation(field, "a time with its time zone")])
    if start >= end:
        raise InvalidArgument([FieldViolation("end", "must be after the start")])
    if end.astimezone(UTC) > LATEST_SLOT_END:
        raise InvalidArgument([FieldViolation("end", f"no later than {LATEST_SLOT_END.isoformat()}")])
    first = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    count = -(-(end - first) // SLOT)
    if count > MAX_SLOTS:
        raise InvalidArgument([FieldViolation("end", f"at most {MAX_SLOTS} hours after the start")])
    return [first + index * SLOT for index in range(count)]
