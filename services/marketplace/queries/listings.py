"""Listings' SQL: the seller's edits under an optimistic version check, the market's
search, capacity slots, and the stock and slot changes orders make inside their own
transactions, each one statement that only succeeds while enough remains. Every read
of listings joins what the platform measured of their sellers' devices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Select,
    and_,
    func,
    insert,
    null,
    or_,
    select,
    tuple_,
    update,
)

from services.kit.db import insert_ignoring_duplicates
from services.marketplace.domain.catalogue import ListingKind, ListingStatus, Unit
from services.marketplace.domain.listings import CapacityMeasurement, Listing, Slot
from services.marketplace.storage import capacity_slots as slots
from services.marketplace.storage import listings, measured_capacity, measured_hours, zone_hours

# The sort orders a search may ask for ("-" for descending); each is made a total
# order by the id after its column.
ORDERS: dict[str, Column[Any]] = {
    "price": listings.c.price,
    "-price": listings.c.price,
    "-created_at": listings.c.created_at,
}
# Fields a seller's edit may not touch: who and what a listing is, and its life so far.
_FIXED = ("id", "seller_id", "kind", "created_at")
_HOUR_SECONDS = 3600

_m = measured_capacity.c
# A device's measurement belongs to a listing only when taken for the listing's seller:
# a device_id naming another tenant's machine must never show that tenant's figures.
_WITH_MEASURED = listings.outerjoin(
    measured_capacity, and_(_m.device_id == listings.c.device_id, _m.tenant_id == listings.c.seller_id)
)
_MEASURED = {
    "start": _m.period_start,
    "end": _m.period_end,
    "measured_at": _m.measured_at,
    "utilisation": _m.utilisation,
    "idle_hours_per_week": _m.idle_hours_per_week,
    "oee": _m.oee,
    "mtbf_seconds": _m.mtbf_seconds,
}
Week = tuple[datetime, datetime]
"""The hours [start, end) whose free slots count towards a listing's idle hours next week."""


def _idle_hours_in(week: Week) -> ColumnElement[Any]:
    """The measured idle hours of the listing's free slots starting in `week`: each slot
    counts the idle seconds of its hour of the week in the measurement's zone. NULL
    without a measurement of the seller's, or without a free slot in the week."""
    h, z, s = measured_hours.c, zone_hours.c, slots.c
    hours = slots.join(zone_hours, and_(z.zone == _m.zone, z.starts_at == s.starts_at)).join(
        measured_hours, and_(h.device_id == _m.device_id, h.weekday == z.weekday, h.hour == z.hour)
    )
    return (
        select(func.sum(h.idle_seconds) / _HOUR_SECONDS)
        .select_from(hours)
        .where(
            s.listing_id == listings.c.id, s.order_id.is_(None), s.starts_at >= week[0], s.starts_at < week[1]
        )
        .scalar_subquery()
    )


def _read(week: Week | None) -> Select[Any]:
    """Listings with their measurements, read in the same statement (one per page); the
    idle hours of `week` computed only when it is given."""
    idle = null() if week is None else _idle_hours_in(week)
    return select(
        listings,
        *(column.label(f"measured_{name}") for name, column in _MEASURED.items()),
        idle.label("measured_idle_hours_next_week"),
    ).select_from(_WITH_MEASURED)


@dataclass(frozen=True)
class ListingFilter:
    """What a buyer searches the published listings for; None or empty matches all."""

    category: str | None = None
    kind: ListingKind | None = None
    ship_from: str | None = None
    currency: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    text: str | None = None
    # Bounds on the seller's device's measurement; any bound excludes unmeasured listings.
    min_idle_hours_per_week: float | None = None
    min_oee: float | None = None
    min_mtbf_hours: float | None = None
    # A bound on the idle hours measured of the listing's free slots next week.
    min_idle_hours_next_week: float | None = None


def _measurement(mapping: Any, week: Week | None) -> CapacityMeasurement | None:
    if mapping["measured_measured_at"] is None:
        return None
    # No free slot of the week counts no idle hour, as none may be sold.
    idle = None if week is None else mapping["measured_idle_hours_next_week"] or 0.0
    return CapacityMeasurement(
        **{name: mapping[f"measured_{name}"] for name in _MEASURED}, idle_hours_next_week=idle
    )


def _listing(row: Any, week: Week | None) -> Listing:
    mapping = row._mapping
    return Listing(
        **{
            **{column.name: mapping[column] for column in listings.c},
            "kind": ListingKind(mapping["kind"]),
            "status": ListingStatus(mapping["status"]),
            "unit": Unit(mapping["unit"]),
            "measured": _measurement(mapping, week),
        }
    )


def _row(listing: Listing) -> dict[str, Any]:
    values = asdict(listing)
    del values["measured"]
    return {
        **values,
        "kind": listing.kind.value,
        "status": listing.status.value,
        "unit": listing.unit.value,
    }


def add_listing(connection: Connection, listing: Listing) -> None:
    connection.execute(insert(listings).values(**_row(listing)))


def find_listing(connection: Connection, listing_id: str, week: Week | None = None) -> Listing | None:
    row = connection.execute(_read(week).where(listings.c.id == listing_id)).first()
    return _listing(row, week) if row else None


def lock_listing(connection: Connection, listing_id: str, week: Week | None = None) -> Listing | None:
    """The listing, locked until the transaction ends (on PostgreSQL; SQLite serialises
    writers anyway), so that what is read of it stays true while the caller acts on it."""
    query = _read(week).where(listings.c.id == listing_id).with_for_update(of=listings)
    row = connection.execute(query).first()
    return _listing(row, week) if row else None


def save_listing(connection: Connection, listing: Listing, expected_version: int) -> bool:
    """Stores a changed listing if it is still at `expected_version`."""
    values = {k: v for k, v in _row(listing).items() if k not in _FIXED}
    result = connection.execute(
        update(listings)
        .where(listings.c.id == listing.id, listings.c.version == expected_version)
        .values(**values)
    )
    return result.rowcount == 1


def _like_text(text: str) -> str:
    """`text` as a LIKE pattern matching it anywhere, its own wildcards taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search_conditions(wanted: ListingFilter, week: Week) -> list[ColumnElement[bool]]:
    c = listings.c
    conditions = [c.status == ListingStatus.PUBLISHED.value]
    kind = wanted.kind.value if wanted.kind is not None else None
    equal = ((c.category, wanted.category), (c.kind, kind), (c.currency, wanted.currency))
    conditions += [column == value for column, value in equal if value is not None]
    if wanted.ship_from:
        # A country matches its subdivisions: CN matches CN-32, never CNX.
        conditions.append(or_(c.ship_from == wanted.ship_from, c.ship_from.like(f"{wanted.ship_from}-%")))
    if wanted.min_price is not None:
        conditions.append(c.price >= wanted.min_price)
    if wanted.max_price is not None:
        conditions.append(c.price <= wanted.max_price)
    if wanted.text:
        # SQLite's lower() folds ASCII alone; PostgreSQL's folds every script with case.
        conditions.append(func.lower(c.title).like(_like_text(wanted.text), escape="\\"))
    if wanted.min_idle_hours_next_week is not None:
        conditions.append(_idle_hours_in(week) >= wanted.min_idle_hours_next_week)
    return conditions + _measured_conditions(wanted)


def _measured_conditions(wanted: ListingFilter) -> list[ColumnElement[bool]]:
    """The measurement's bounds; NULL (no measurement, or an undefined figure) meets none."""
    mtbf_seconds = None if wanted.min_mtbf_hours is None else wanted.min_mtbf_hours * _HOUR_SECONDS
    bounds = (
        (_m.idle_hours_per_week, wanted.min_idle_hours_per_week),
        (_m.oee, wanted.min_oee),
        (_m.mtbf_seconds, mtbf_seconds),
    )
    return [column >= bound for column, bound in bounds if bound is not None]


def _page(
    conditions: list[ColumnElement[bool]],
    key: Column[Any],
    descending: bool,
    after: tuple[Any, str] | None,
    limit: int,
    week: Week,
) -> Select[Any]:
    """One page of keyset pagination by (`key`, id), after the position `after`."""
    position = tuple_(key, listings.c.id)
    if after is not None:
        conditions = [*conditions, position < after if descending else position > after]
    ordering = [key.desc(), listings.c.id.desc()] if descending else [key.asc(), listings.c.id.asc()]
    return _read(week).where(*conditions).order_by(*ordering).limit(limit)


def search_listings(
    connection: Connection,
    wanted: ListingFilter,
    order: str,
    after: tuple[Any, str] | None,
    limit: int,
    week: Week,
) -> list[Listing]:
    """Published listings of every seller matching `wanted`, in `order` (a key of ORDERS),
    with the idle hours of their free slots in `week`."""
    conditions = _search_conditions(wanted, week)
    query = _page(conditions, ORDERS[order], order.startswith("-"), after, limit, week)
    return [_listing(row, week) for row in connection.execute(query)]


def seller_listings(
    connection: Connection,
    seller_id: str,
    status: ListingStatus | None,
    after: tuple[datetime, str] | None,
    limit: int,
    week: Week,
) -> list[Listing]:
    """A seller's own listings of any status (or of `status`), newest first."""
    conditions = [listings.c.seller_id == seller_id]
    if status is not None:
        conditions.append(listings.c.status == status.value)
    query = _page(conditions, listings.c.created_at, True, after, limit, week)
    return [_listing(row, week) for row in connection.execute(query)]


def add_slots(connection: Connection, new: Sequence[Slot]) -> int:
    """Opens the slots not yet open; returns how many were new."""
    return insert_ignoring_duplicates(connection, slots, [asdict(slot) for slot in new])


def unbooked_slots(connection: Connection, listing_id: str, start: datetime, end: datetime) -> list[Slot]:
    """The listing's free slots starting in [start, end), earliest first."""
    query = (
        select(slots)
        .where(
            slots.c.listing_id == listing_id,
            slots.c.order_id.is_(None),
            slots.c.starts_at >= start,
            slots.c.starts_at < end,
        )
        .order_by(slots.c.starts_at)
    )
    return [Slot(**row._mapping) for row in connection.execute(query)]


def take_stock(connection: Connection, listing_id: str, quantity: int) -> bool:
    """Takes `quantity` from a product's stock if that much remains; False otherwise.

    One conditional UPDATE: the database checks and decrements together under the
    row's lock, so two buyers can never both take the last items."""
    _require_positive(quantity)
    result = connection.execute(
        update(listings)
        .where(listings.c.id == listing_id, listings.c.stock >= quantity)
        .values(stock=listings.c.stock - quantity)
    )
    return result.rowcount == 1


def return_stock(connection: Connection, listing_id: str, quantity: int) -> None:
    """Puts back what a cancelled order took."""
    _require_positive(quantity)
    connection.execute(
        update(listings)
        .where(listings.c.id == listing_id, listings.c.stock.is_not(None))
        .values(stock=listings.c.stock + quantity)
    )


def book_slots(connection: Connection, listing_id: str, starts: Sequence[datetime], order_id: str) -> bool:
    """Books the listing's slots starting at `starts` for the order, if every one of them
    is open and free; False otherwise, when the caller must roll back what was booked.

    One conditional UPDATE: a slot is taken only where it is still free, so two orders
    can never book the same machine-hour. The free slots are locked first, earliest
    first, so that two orders wanting overlapping hours queue rather than deadlock."""
    wanted = set(starts)
    if not wanted:
        return False
    free = (slots.c.listing_id == listing_id, slots.c.starts_at.in_(wanted), slots.c.order_id.is_(None))
    connection.execute(select(slots.c.starts_at).where(*free).order_by(slots.c.starts_at).with_for_update())
    result = connection.execute(update(slots).where(*free).values(order_id=order_id))
    return result.rowcount == len(wanted)


def free_slots(connection: Connection, order_id: str) -> int:
    """Frees every slot the order booked; returns how many."""
    result = connection.execute(update(slots).where(slots.c.order_id == order_id).values(order_id=None))
    return result.rowcount


def _require_positive(quantity: int) -> None:
    # Orders check quantities first; a negative one here would move stock the wrong way.
    if type(quantity) is not int or quantity < 1:
        raise ValueError(f"a quantity of stock is a positive whole number, not {quantity!r}")
