"""Requests for quotation and their quotes, in plain Python.

A buyer posts an RFQ, open until its deadline; sellers answer with quotes, each
valid until a time of its seller's choosing; the buyer accepts one, which awards the
RFQ and rejects the other open quotes, or cancels the RFQ. Expiry is never written:
an open RFQ past its deadline, or an open quote past its validity, is expired because
time passed: no job has to sweep them, and none that runs late can leave one looking
open after its time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from services.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument
from services.marketplace.domain.catalogue import Unit

# How far ahead a buyer may set a deadline, and a seller a quote's validity.
LONGEST_DEADLINE = timedelta(days=365)
LONGEST_VALIDITY = timedelta(days=90)


class RfqStatus(StrEnum):
    OPEN = "open"
    AWARDED = "awarded"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # derived by state_at(), never stored


class QuoteStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"  # derived by state_at(), never stored


# Why each state but open refuses what only an open RFQ or quote allows.
_RFQ_CLOSED = {
    RfqStatus.AWARDED: "the request was already awarded",
    RfqStatus.CANCELLED: "the request was cancelled",
    RfqStatus.EXPIRED: "the request has expired",
}
_QUOTE_CLOSED = {
    QuoteStatus.ACCEPTED: "the quote was already accepted",
    QuoteStatus.REJECTED: "the quote was rejected",
    QuoteStatus.WITHDRAWN: "the quote was withdrawn",
    QuoteStatus.EXPIRED: "the quote has expired",
}


@dataclass(frozen=True)
class Rfq:
    """A row of `rfqs`: what a buyer wants made, how many, and by when quotes are due."""

    id: str
    buyer_id: str
    category: str
    title: str
    specification: str
    quantity: int
    unit: Unit
    currency: str
    deadline: datetime
    status: RfqStatus
    created_at: datetime

    def state_at(self, now: datetime) -> RfqStatus:
        """The stored status, or expired when it is open and its deadline has come."""
        if self.status is RfqStatus.OPEN and now >= self.deadline:
            return RfqStatus.EXPIRED
        return self.status

    def require_open(self, now: datetime) -> None:
        _refuse_closed(self.state_at(now), _RFQ_CLOSED)

    def visible_to(self, tenant_id: str, now: datetime, quoted: bool) -> bool:
        """The buyer always sees its RFQ and the market while it is open; a seller that
        quoted keeps seeing it, to follow what became of its quote."""
        return tenant_id == self.buyer_id or quoted or self.state_at(now) is RfqStatus.OPEN

    def cancelled(self, now: datetime) -> Rfq:
        self.require_open(now)
        return replace(self, status=RfqStatus.CANCELLED)


@dataclass(frozen=True)
class Quote:
    """A row of `quotes`: a seller's whole price for an RFQ's quantity, in its currency."""

    id: str
    rfq_id: str
    seller_id: str
    price: int
    lead_time_days: int
    valid_until: datetime
    note: str
    status: QuoteStatus
    created_at: datetime

    def state_at(self, now: datetime) -> QuoteStatus:
        """The stored status, or expired when it is open and no longer valid."""
        if self.status is QuoteStatus.OPEN and now >= self.valid_until:
            return QuoteStatus.EXPIRED
        return self.status

    def require_open(self, now: datetime) -> None:
        _refuse_closed(self.state_at(now), _QUOTE_CLOSED)

    def withdrawn(self, now: datetime) -> Quote:
        self.require_open(now)
        return replace(self, status=QuoteStatus.WITHDRAWN)


@dataclass(frozen=True)
class AcceptedQuote:
    """What an order of an accepted quote is made of: the RFQ's whole quantity at the
    quoted price, between its buyer and the quote's seller."""

    quote_id: str
    rfq_id: str
    buyer_id: str
    seller_id: str
    title: str
    quantity: int
    unit: Unit
    currency: str
    price: int


def _refuse_closed(state: StrEnum, reasons: dict[Any, str]) -> None:
    if state in reasons:
        raise FailedPrecondition(reasons[state])


def require_ahead(value: datetime, now: datetime, longest: timedelta, field: str) -> datetime:
    """`value` in UTC, if it is after `now` and at most `longest` later; it is compared
    before it is converted, since a far-off time in an extreme zone may not fit in UTC."""
    if not now < value <= now + longest:
        raise InvalidArgument(
            [FieldViolation(field, f"must be after now and at most {longest.days} days ahead")]
        )
    return value.astimezone(UTC)


def new_rfq(rfq_id: str, buyer_id: str, fields: dict[str, Any], now: datetime) -> Rfq:
    """An open RFQ of the buyer's checked `fields`, due by a deadline within a year."""
    deadline = require_ahead(fields["deadline"], now, LONGEST_DEADLINE, "deadline")
    return Rfq(
        id=rfq_id,
        buyer_id=buyer_id,
        status=RfqStatus.OPEN,
        created_at=now,
        **{**fields, "deadline": deadline},
    )


def new_quote(
    quote_id: str, rfq: Rfq, seller_id: str, earlier: list[Quote], fields: dict[str, Any], now: datetime
) -> Quote:
    """An open quote of the seller's checked `fields` for an open RFQ of another tenant;
    `earlier` are the seller's quotes for it, of which at most one may be open, so that
    the buyer compares one live offer per seller."""
    if seller_id == rfq.buyer_id:
        raise FailedPrecondition("cannot quote your own request")
    rfq.require_open(now)
    if any(quote.state_at(now) is QuoteStatus.OPEN for quote in earlier):
        raise FailedPrecondition("you already have an open quote for this request; withdraw it first")
    if fields.get("currency", rfq.currency) != rfq.currency:
        raise InvalidArgument([FieldViolation("currency", f"must be the request's currency, {rfq.currency}")])
    valid_until = require_ahead(fields["valid_until"], now, LONGEST_VALIDITY, "valid_until")
    return Quote(
        id=quote_id,
        rfq_id=rfq.id,
        seller_id=seller_id,
        price=fields["price"],
        lead_time_days=fields["lead_time_days"],
        valid_until=valid_until,
        note=fields["note"],
        status=QuoteStatus.OPEN,
        created_at=now,
    )


def accept(rfq: Rfq, quote: Quote, now: datetime) -> AcceptedQuote:
    """The buyer's acceptance of `quote`, while both it and its RFQ are still open."""
    rfq.require_open(now)
    quote.require_open(now)
    return AcceptedQuote(
        quote_id=quote.id,
        rfq_id=rfq.id,
        buyer_id=rfq.buyer_id,
        seller_id=quote.seller_id,
        title=rfq.title,
        quantity=rfq.quantity,
        unit=rfq.unit,
        currency=rfq.currency,
        price=quote.price,
    )
