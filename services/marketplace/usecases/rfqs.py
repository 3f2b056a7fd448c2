"""Use cases of requests for quotation: buyers post and cancel RFQs, sellers quote on
them and withdraw their quotes, and every tenant browses the open ones. A buyer's
acceptance of a quote makes an order, so it is the orders' use case (see
queries.rfqs.take_quote).

A tenant sees its own RFQs with every quote, the market's open RFQs, and RFQs it
quoted on, with its own quotes alone; anything else does not exist for it (NotFound,
never PermissionDenied, so that ids reveal nothing)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validates
from sqlalchemy import Connection

from services.kit import pagination
from services.kit.errors import FieldViolation, InvalidArgument, NotFound
from services.kit.validation import load, require_uuid, text
from services.marketplace.domain.catalogue import CATEGORIES, Unit
from services.marketplace.domain.rfqs import Quote, Rfq, new_quote, new_rfq
from services.marketplace.queries import rfqs as queries
from services.marketplace.queries.rfqs import Position
from services.marketplace.usecases import Clock, UnitOfWorkFactory, utc_now
from services.marketplace.usecases.fields import category_field, currency_field, price_field, prose, whole

MAX_TITLE = 200
MAX_SPECIFICATION = 10_000
MAX_NOTE = 2_000
MAX_QUANTITY = 10**12
MAX_LEAD_TIME_DAYS = 365

Fetch = Callable[[Connection, Position | None, int], list[Rfq]]


class RfqSchema(Schema):
    title = text(MAX_TITLE)
    specification = prose(MAX_SPECIFICATION)
    category = category_field(required=True)
    quantity = whole(1, MAX_QUANTITY, required=True)
    unit = fields.Enum(Unit, by_value=True, required=True)
    currency = currency_field(load_default="CNY")
    deadline = fields.AwareDateTime(required=True)

    @validates("title")
    def _title_not_blank(self, value: str, **_: Any) -> None:
        if not value.strip():
            raise ValidationError("must not be blank")


class QuoteSchema(Schema):
    """A seller's quote; its price is in the RFQ's currency, which `currency`, if sent,
    must name, so that a seller never quotes in one currency and is paid in another."""

    price = price_field(required=True)
    currency = currency_field()
    lead_time_days = whole(0, MAX_LEAD_TIME_DAYS, required=True)
    valid_until = fields.AwareDateTime(required=True)
    note = prose(MAX_NOTE)


class Rfqs:
    def __init__(self, unit_of_work: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock

    def post(self, buyer_id: str, fields: dict[str, Any]) -> Rfq:
        """An open RFQ of the buyer's, due by a deadline within a year."""
        buyer_id = require_uuid(buyer_id, "buyer_id")
        rfq = new_rfq(str(uuid.uuid4()), buyer_id, load(RfqSchema(), fields), self._clock())
        with self._unit_of_work() as uow:
            queries.add_rfq(uow.connection, rfq)
            uow.commit()
        return rfq

    def get(self, tenant_id: str, rfq_id: str) -> tuple[Rfq, list[Quote]]:
        """The RFQ and the quotes of it the tenant may see: all of them for its buyer, a
        seller's own for a seller."""
        tenant_id, rfq_id = require_uuid(tenant_id, "tenant_id"), require_uuid(rfq_id, "rfq_id")
        with self._unit_of_work(read_only=True) as uow:
            rfq = queries.find_rfq(uow.connection, rfq_id)
            return _visible(uow.connection, tenant_id, rfq, self._clock())

    def list_open(
        self, tenant_id: str, category: str | None = None, page_size: int = 0, cursor: str = ""
    ) -> tuple[list[Rfq], str]:
        """A page of the open RFQs of other buyers (of `category`, or all) that are not yet
        due, soonest deadline first, and the cursor of the next page ("" after the last)."""
        tenant_id = require_uuid(tenant_id, "tenant_id")
        if category is not None and category not in CATEGORIES:
            raise InvalidArgument([FieldViolation("category", f"one of {', '.join(CATEGORIES)}")])
        now = self._clock()

        def fetch(connection: Connection, after: Position | None, limit: int) -> list[Rfq]:
            return queries.open_rfqs(connection, tenant_id, category, now, after, limit)

        query = {"open_for": tenant_id, "category": category}
        return self._page(query, page_size, cursor, fetch, lambda rfq: rfq.deadline)

    def list_own(self, buyer_id: str, page_size: int = 0, cursor: str = "") -> tuple[list[Rfq], str]:
        """A page of the buyer's own RFQs of every status, newest first."""
        buyer_id = require_uuid(buyer_id, "buyer_id")

        def fetch(connection: Connection, after: Position | None, limit: int) -> list[Rfq]:
            return queries.buyer_rfqs(connection, buyer_id, after, limit)

        return self._page({"own": buyer_id}, page_size, cursor, fetch, lambda rfq: rfq.created_at)

    def cancel(self, buyer_id: str, rfq_id: str) -> Rfq:
        """Withdraws the buyer's open RFQ; its open quotes are rejected, as sellers must
        not wait on an answer that will never come."""
        buyer_id, rfq_id = require_uuid(buyer_id, "buyer_id"), require_uuid(rfq_id, "rfq_id")
        with self._unit_of_work() as uow:
            rfq = queries.lock_rfq(uow.connection, rfq_id)
            if rfq is None or rfq.buyer_id != buyer_id:
                raise NotFound("rfq not found")
            cancelled = rfq.cancelled(self._clock())
            queries.set_rfq_status(uow.connection, rfq.id, cancelled.status)
            queries.reject_open_quotes(uow.connection, rfq.id)
            uow.commit()
        return cancelled

    def submit_quote(self, seller_id: str, rfq_id: str, fields: dict[str, Any]) -> Quote:
        """The seller's quote for an open RFQ of another buyer's; one open quote per seller,
        checked under the RFQ's lock so that two submitted at once cannot both pass."""
        seller_id, rfq_id = require_uuid(seller_id, "seller_id"), require_uuid(rfq_id, "rfq_id")
        loaded = load(QuoteSchema(), fields)
        now = self._clock()
        with self._unit_of_work() as uow:
            rfq, earlier = _visible(uow.connection, seller_id, queries.lock_rfq(uow.connection, rfq_id), now)
            quote = new_quote(str(uuid.uuid4()), rfq, seller_id, earlier, loaded, now)
            queries.add_quote(uow.connection, quote)
            uow.commit()
        return quote

    def withdraw_quote(self, seller_id: str, quote_id: str) -> Quote:
        """Withdraws the seller's own open quote."""
        seller_id, quote_id = require_uuid(seller_id, "seller_id"), require_uuid(quote_id, "quote_id")
        with self._unit_of_work() as uow:
            locked = queries.lock_quote(uow.connection, quote_id)
            if locked is None or locked[1].seller_id != seller_id:
                raise NotFound("quote not found")
            withdrawn = locked[1].withdrawn(self._clock())
            queries.set_quote_status(uow.connection, withdrawn.id, withdrawn.status)
            uow.commit()
        return withdrawn

    def _page(
        self,
        query: dict[str, Any],
        size: int,
        cursor: str,
        fetch: Fetch,
        key: Callable[[Rfq], datetime],
    ) -> tuple[list[Rfq], str]:
        """One page by keyset on (`key`, id); one more RFQ than the page is fetched to
        learn whether another page follows. The cursor is bound to `query`."""
        limit = pagination.page_size(size)
        after = _position(pagination.decode_cursor(cursor, query))
        with self._unit_of_work(read_only=True) as uow:
            found = fetch(uow.connection, after, limit + 1)
        return pagination.keyset_page(found, limit, lambda last: [key(last).isoformat(), last.id], query)


def _visible(
    connection: Connection, tenant_id: str, rfq: Rfq | None, now: datetime
) -> tuple[Rfq, list[Quote]]:
    """The RFQ and the quotes of it the tenant may see, or NotFound when it may not see it."""
    if rfq is None:
        raise NotFound("rfq not found")
    seen = queries.quotes_of(connection, rfq.id, None if tenant_id == rfq.buyer_id else tenant_id)
    if not rfq.visible_to(tenant_id, now, quoted=bool(seen)):
        raise NotFound("rfq not found")
    return rfq, seen


def _instant(value: str) -> datetime | None:
    """The aware time of ISO `value` in UTC, or None when it is not one."""
    try:
        at = datetime.fromisoformat(value)
        return at.astimezone(UTC) if at.utcoffset() is not None else None
    except (ValueError, OverflowError):
        return None


def _position(position: list[Any] | None) -> Position | None:
    """The (time, id) a cursor continues after, checked: anyone can compute a cursor's
    fingerprint, so a forged position must fail here, not in the database."""
    if position is None:
        return None
    match position:
        case [str() as at, str() as rfq_id] if (instant := _instant(at)) is not None:
            return instant, rfq_id
    raise InvalidArgument([FieldViolation("page.cursor", "not a cursor of this list")])
