"""What an order holds of a listing: product stock taken or capacity slots booked when it
is placed, given back when it is cancelled. Each is one conditional statement, so two
buyers never get the last item or one machine-hour."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from services.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from services.marketplace.domain.catalogue import ListingKind, ListingStatus
from services.marketplace.domain.orders import Order, OrderLine, line_amount
from services.marketplace.queries import listings as listing_queries
from services.marketplace.queries import orders as queries


def reserve(
    connection: Connection,
    buyer: str,
    listing_id: str,
    quantity: int,
    slots: list[datetime],
    order_id: str,
) -> tuple[str, str, OrderLine]:
    """The seller, currency and line of an order of a listing, its stock or slots taken."""
    listing = listing_queries.lock_listing(connection, listing_id)
    if listing is None or listing.status != ListingStatus.PUBLISHED:
        raise NotFound("listing not found")
    if listing.seller_id == buyer:
        raise FailedPrecondition("cannot buy from yourself")
    if quantity < listing.min_order_quantity:
        raise InvalidArgument([FieldViolation("quantity", f"at least {listing.min_order_quantity}")])
    _take(connection, listing.kind, listing_id, quantity, slots, order_id)
    line = OrderLine(
        1, listing_id, listing.title, quantity, listing.price, line_amount(quantity, listing.price)
    )
    return listing.seller_id, listing.currency, line


def _take(
    connection: Connection,
    kind: ListingKind,
    listing_id: str,
    quantity: int,
    slots: list[datetime],
    order_id: str,
) -> None:
    """Takes the stock or books the slots an order needs, or fails leaving them as they were."""
    if kind != ListingKind.CAPACITY and slots:
        raise InvalidArgument([FieldViolation("slots", "only capacity listings are booked by slot")])
    if kind == ListingKind.PRODUCT and not listing_queries.take_stock(connection, listing_id, quantity):
        raise FailedPrecondition("not enough stock")
    if kind == ListingKind.CAPACITY:
        if len(set(slots)) != quantity:
            raise InvalidArgument([FieldViolation("slots", "one distinct slot per hour ordered")])
        if not listing_queries.book_slots(connection, listing_id, slots, order_id):
            raise FailedPrecondition("a slot is already booked or not offered")


def release(connection: Connection, order: Order) -> None:
    """Gives back what a cancelled order held: product stock and capacity slots."""
    for line in queries.lines_of(connection, order.id):
        listing = listing_queries.lock_listing(connection, line.listing_id) if line.listing_id else None
        if listing is not None and listing.kind == ListingKind.PRODUCT:
            listing_queries.return_stock(connection, line.listing_id, line.quantity)
    listing_queries.free_slots(connection, order.id)
