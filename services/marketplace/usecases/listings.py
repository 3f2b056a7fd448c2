"""Use cases of listings: sellers draft, edit, publish, pause and close them and open
the machine-hours of their capacity; every tenant searches the published ones.

A tenant sees the market's published listings and its own of any status; another
tenant's unpublished listing does not exist for it (NotFound, never PermissionDenied,
so that ids reveal nothing)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema
from sqlalchemy import Connection

from services.kit import pagination
from services.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, VersionMismatch
from services.kit.events import Event, new_event
from services.kit.validation import load, require_uuid, text
from services.marketplace.domain.capacity import next_week
from services.marketplace.domain.catalogue import ListingKind, ListingStatus, Unit
from services.marketplace.domain.ledger import MAX_AMOUNT
from services.marketplace.domain.listings import SLOT, Listing, Slot, draft, hours_between
from services.marketplace.queries import listings as queries
from services.marketplace.queries.listings import ORDERS, ListingFilter
from services.marketplace.usecases import Clock, UnitOfWorkFactory, utc_now
from services.marketplace.usecases.fields import (
    category_field,
    currency_field,
    price_field,
    prose,
    whole,
)

DeviceCheck = Callable[[str, str], bool]
"""Whether a tenant (first) owns a registered device (second)."""

MAX_TITLE = 200
MAX_DESCRIPTION = 5000
MAX_QUANTITY = 10**9
MAX_LEAD_TIME_DAYS = 365
# An ISO 3166-1 alpha-2 country, or one of its ISO 3166-2 subdivisions (CN-32).
# \Z, not $: $ also matches before a trailing newline.
SHIP_FROM = r"[A-Z]{2}(-[A-Z0-9]{1,3})?\Z"
HOURS_PER_WEEK = 168
UPDATABLE = ("title", "description", "price", "lead_time_days", "min_order_quantity", "stock")


def ship_from_field(**kwargs: Any) -> fields.String:
    error = "an ISO 3166-1 alpha-2 country, or one of its subdivisions, such as CN or CN-32"
    return fields.String(validate=validate.Regexp(SHIP_FROM, error=error), **kwargs)


class CanonicalUuid(fields.UUID):
    """A UUID kept in its canonical text, as ids are stored and compared."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return str(super()._deserialize(value, attr, data, **kwargs))


class ListingSchema(Schema):
    title = text(MAX_TITLE)
    description = prose(MAX_DESCRIPTION)
    category = category_field(required=True)
    kind = fields.Enum(ListingKind, by_value=True, required=True)
    price = price_field(required=True)
    currency = currency_field(load_default="CNY")
    unit = fields.Enum(Unit, by_value=True, required=True)
    min_order_quantity = whole(1, MAX_QUANTITY, load_default=1)
    lead_time_days = whole(0, MAX_LEAD_TIME_DAYS, load_default=0)
    ship_from = ship_from_field(required=True)
    device_id = CanonicalUuid(load_default=None)
    stock = whole(0, MAX_AMOUNT, load_default=None)

    @validates("title")
    def _title_not_blank(self, value: str, **_: Any) -> None:
        if not value.strip():
            raise ValidationError("must not be blank")


class SearchSchema(Schema):
    """A buyer's search: every filter may be left out (or None) to match all."""

    category = category_field(load_default=None)
    kind = fields.Enum(ListingKind, by_value=True, load_default=None)
    ship_from = ship_from_field(load_default=None)
    currency = currency_field(load_default=None)
    min_price = price_field(load_default=None)
    max_price = price_field(load_default=None)
    text = text(MAX_TITLE, required=False, load_default=None)
    order_by = fields.String(load_default="-created_at", validate=validate.OneOf(ORDERS))
    # Bounds on the measured figures of a capacity listing's device.
    min_idle_hours_per_week = fields.Float(load_default=None, validate=validate.Range(0, HOURS_PER_WEEK))
    min_oee = fields.Float(load_default=None, validate=validate.Range(0, 1))
    min_mtbf_hours = fields.Float(load_default=None, validate=validate.Range(min=0))
    # ... and on those measured of its own free slots of the coming week.
    min_idle_hours_next_week = fields.Float(load_default=None, validate=validate.Range(0, HOURS_PER_WEEK))

    @validates_schema
    def _prices_in_order(self, data: dict[str, Any], **_: Any) -> None:
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            raise ValidationError("must not be below min_price", "max_price")


class Listings:
    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock = utc_now,
        device_belongs: DeviceCheck = lambda tenant, device: True,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._device_belongs = device_belongs

    def create(self, seller_id: str, fields: dict[str, Any]) -> Listing:
        """Drafts a listing; a capacity listing sells the hours of one of its seller's own
        registered devices, never another tenant's."""
        seller_id = require_uuid(seller_id, "seller_id")
        listing = draft(str(uuid.uuid4()), seller_id, load(ListingSchema(), fields), self._clock())
        if listing.device_id is not None and not self._device_belongs(seller_id, listing.device_id):
            raise InvalidArgument([FieldViolation("device_id", "no such device of the seller's")])
        with self._unit_of_work() as uow:
            queries.add_listing(uow.connection, listing)
            uow.commit()
        return listing

    def get(self, tenant_id: str, listing_id: str) -> Listing:
        tenant_id, listing_id = require_uuid(tenant_id, "tenant_id"), require_uuid(listing_id, "listing_id")
        with self._unit_of_work(read_only=True) as uow:
            return _visible(uow.connection, tenant_id, listing_id, self._week())

    def _week(self) -> queries.Week:
        return next_week(self._clock())

    def update(
        self, seller_id: str, listing_id: str, expected_version: int, changes: dict[str, Any]
    ) -> Listing:
        """Changes what a seller may change of a listing that is not closed; its kind's
        rules still hold after (only a product has stock)."""
        if not changes or set(changes) - set(UPDATABLE):
            raise InvalidArgument([FieldViolation("changes", f"name any of {', '.join(UPDATABLE)}")])
        loaded = load(ListingSchema(partial=True, only=tuple(changes)), changes)
        return self._change(
            seller_id, listing_id, expected_version, lambda listing, now: listing.changed(loaded, now)
        )

    def change_status(
        self, seller_id: str, listing_id: str, expected_version: int, status: ListingStatus | str
    ) -> Listing:
        wanted = _status(status)
        return self._change(
            seller_id, listing_id, expected_version, lambda listing, now: listing.moved_to(wanted, now)
        )

    def _change(
        self,
        seller_id: str,
        listing_id: str,
        expected_version: int,
        change: Callable[[Listing, datetime], Listing],
    ) -> Listing:
        """Applies `change` to the seller's listing at `expected_version`, locked meanwhile
        so that stock an order takes concurrently is never written back stale."""
        seller_id, listing_id = require_uuid(seller_id, "seller_id"), require_uuid(listing_id, "listing_id")
        if type(expected_version) is not int or expected_version < 1:
            raise InvalidArgument([FieldViolation("expected_version", "the version you read (1 or more)")])
        with self._unit_of_work() as uow:
            listing = _own(queries.lock_listing(uow.connection, listing_id, self._week()), seller_id)
            if listing.version != expected_version:
                raise VersionMismatch(f"listing is at version {listing.version}, not {expected_version}")
            changed = change(listing, self._clock())
            if not queries.save_listing(uow.connection, changed, expected_version):
                raise VersionMismatch("listing changed meanwhile; read it again")
            if changed.status is ListingStatus.PUBLISHED and listing.status is not ListingStatus.PUBLISHED:
                uow.emit(_published(changed))
            uow.commit()
        return changed

    def add_availability(self, seller_id: str, listing_id: str, start: datetime, end: datetime) -> int:
        """Opens the capacity listing's hourly slots covering [start, end), those open
        already left as they are (booked or not); returns how many were new."""
        seller_id, listing_id = require_uuid(seller_id, "seller_id"), require_uuid(listing_id, "listing_id")
        starts = hours_between(start, end)
        with self._unit_of_work() as uow:
            listing = _capacity(_own(queries.lock_listing(uow.connection, listing_id), seller_id))
            if listing.status is ListingStatus.CLOSED:
                raise FailedPrecondition("a closed listing sells nothing more")
            added = queries.add_slots(uow.connection, [Slot(listing.id, at, at + SLOT) for at in starts])
            uow.commit()
        return added

    def free_slots(self, tenant_id: str, listing_id: str, start: datetime, end: datetime) -> list[Slot]:
        """The unbooked slots of a capacity listing the tenant sees, starting in the hours
        [start, end) covers."""
        tenant_id, listing_id = require_uuid(tenant_id, "tenant_id"), require_uuid(listing_id, "listing_id")
        starts = hours_between(start, end)
        with self._unit_of_work(read_only=True) as uow:
            listing = _capacity(_visible(uow.connection, tenant_id, listing_id, None))
            return queries.unbooked_slots(uow.connection, listing.id, starts[0], end)

    def search(
        self, tenant_id: str, filters: dict[str, Any], page_size: int = 0, cursor: str = ""
    ) -> tuple[list[Listing], str]:
        """A page of the published listings of every seller matching `filters`, and the
        cursor of the next page ("" after the last)."""
        tenant_id = require_uuid(tenant_id, "tenant_id")
        options = load(SearchSchema(), filters)
        order = options.pop("order_by")
        wanted = ListingFilter(**options)
        query = {"search": repr(wanted), "order": order, "tenant": tenant_id}
        week = self._week()

        def fetch(connection: Connection, after: tuple[Any, str] | None, limit: int) -> list[Listing]:
            return queries.search_listings(connection, wanted, order, after, limit, week)

        return self._page(query, order.endswith("created_at"), page_size, cursor, fetch)

    def list_own(
        self, seller_id: str, status: ListingStatus | str | None = None, page_size: int = 0, cursor: str = ""
    ) -> tuple[list[Listing], str]:
        """A page of the seller's own listings (of `status`, or all), newest first."""
        seller_id = require_uuid(seller_id, "seller_id")
        wanted = None if status is None else _status(status)
        query = {"own": seller_id, "status": str(wanted or "")}
        week = self._week()

        def fetch(connection: Connection, after: tuple[Any, str] | None, limit: int) -> list[Listing]:
            return queries.seller_listings(connection, seller_id, wanted, after, limit, week)

        return self._page(query, True, page_size, cursor, fetch)

    def _page(
        self,
        query: dict[str, Any],
        by_time: bool,
        size: int,
        cursor: str,
        fetch: Callable[[Connection, tuple[Any, str] | None, int], list[Listing]],
    ) -> tuple[list[Listing], str]:
        """One page by keyset, sorted by creation time when `by_time`, else by price; one
        more listing than the page is fetched to learn whether another page follows."""
        limit = pagination.page_size(size)
        after = _position(pagination.decode_cursor(cursor, query), by_time)
        with self._unit_of_work(read_only=True) as uow:
            found = fetch(uow.connection, after, limit + 1)
        return pagination.keyset_page(
            found,
            limit,
            lambda last: [last.created_at.isoformat() if by_time else last.price, last.id],
            query,
        )


def _own(listing: Listing | None, seller_id: str) -> Listing:
    if listing is None or listing.seller_id != seller_id:
        raise NotFound("listing not found")
    return listing


def _visible(connection: Connection, tenant_id: str, listing_id: str, week: queries.Week | None) -> Listing:
    listing = queries.find_listing(connection, listing_id, week)
    if listing is None or not listing.visible_to(tenant_id):
        raise NotFound("listing not found")
    return listing


def _capacity(listing: Listing) -> Listing:
    if listing.kind is not ListingKind.CAPACITY:
        raise FailedPrecondition("only a capacity listing has slots")
    return listing


def _status(value: ListingStatus | str) -> ListingStatus:
    try:
        return ListingStatus(value)
    except ValueError:
        raise InvalidArgument([FieldViolation("status", f"one of {', '.join(ListingStatus)}")]) from None


def _bad_cursor() -> InvalidArgument:
    return InvalidArgument([FieldViolation("page.cursor", "not a cursor of this list")])


def _position(position: list[Any] | None, by_time: bool) -> tuple[Any, str] | None:
    """The (sort key, id) a cursor continues after, checked: anyone can compute a cursor's
    fingerprint, so a forged position must fail here, not in the database."""
    if position is None:
        return None
    match position:
        case [str() as created_at, str() as listing_id] if by_time:
            try:
                key: Any = datetime.fromisoformat(created_at)
            except ValueError:
                raise _bad_cursor() from None
            if key.utcoffset() is None:
                raise _bad_cursor()
        case [int() as key, str() as listing_id] if not by_time and type(key) is int:
            pass
        case _:
            raise _bad_cursor()
    return key, listing_id


def _published(listing: Listing) -> Event:
    return new_event(
        "listing.published",
        listing.seller_id,
        {
            "listing_id": listing.id,
            "kind": listing.kind.value,
            "category": listing.category,
            "currency": listing.currency,
            "price": listing.price,
        },
    )
