"""Conversions between the marketplace's protobuf messages and its domain values.

Requests are checked here only for what protobuf itself cannot say: enum numbers the
contract does not define, timestamps that are missing or out of range, and the
caller's id (which names fields of the use cases' errors). Everything else is the use
cases' to check, so that every adapter refuses the same input the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from gantry.v1 import common_pb2
from gantry.v1 import marketplace_pb2 as pb
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from services.kit.errors import FieldViolation, InvalidArgument
from services.kit.protos import enum_name, enum_number, from_timestamp, timestamp
from services.kit.validation import require_uuid
from services.marketplace.domain.catalogue import ListingKind, ListingStatus, Unit
from services.marketplace.domain.ledger import Account, AccountKind, Transfer, TransferKind
from services.marketplace.domain.listings import Listing, Slot
from services.marketplace.domain.orders import Order, OrderLine, OrderState
from services.marketplace.domain.rfqs import Quote, QuoteStatus, Rfq, RfqStatus

Domain = TypeVar("Domain", bound=StrEnum)


@dataclass(frozen=True)
class EnumMap(Generic[Domain]):
    """A protobuf enum and the domain enum it stands for, value by value:
    LISTING_KIND_CAPACITY <-> ListingKind.CAPACITY."""

    proto: EnumTypeWrapper
    prefix: str
    domain: type[Domain]

    def to_domain(self, number: int, field: str) -> Domain | None:
        """The domain value, None for UNSPECIFIED; InvalidArgument naming `field` for a
        number the contract does not define, which protobuf lets through as it is."""
        if number != 0 and number not in self.proto.values():
            names = ", ".join(value.name for value in self.proto.DESCRIPTOR.values if value.number)
            raise InvalidArgument([FieldViolation(field, f"one of {names}")])
        name = enum_name(self.proto, number, self.prefix)
        return None if name is None else self.domain(name)

    def to_proto(self, value: Domain) -> int:
        return enum_number(self.proto, value, self.prefix)


LISTING_KINDS = EnumMap(pb.ListingKind, "LISTING_KIND_", ListingKind)
LISTING_STATUSES = EnumMap(pb.ListingStatus, "LISTING_STATUS_", ListingStatus)
UNITS = EnumMap(pb.Unit, "UNIT_", Unit)
RFQ_STATUSES = EnumMap(pb.RfqStatus, "RFQ_STATUS_", RfqStatus)
QUOTE_STATUSES = EnumMap(pb.QuoteStatus, "QUOTE_STATUS_", QuoteStatus)
ORDER_STATES = EnumMap(pb.OrderState, "ORDER_STATE_", OrderState)
ACCOUNT_KINDS = EnumMap(pb.AccountKind, "ACCOUNT_KIND_", AccountKind)
TRANSFER_KINDS = EnumMap(pb.TransferKind, "TRANSFER_KIND_", TransferKind)


# --- Requests -------------------------------------------------------------------


def tenant_of(request: Message) -> str:
    """The calling tenant's id, checked before anything else: the use cases name it
    seller, buyer or owner, and a key of idempotency is scoped by it."""
    return require_uuid(request.tenant_id, "tenant_id")


def tenant_or_operator(request: Message) -> str | None:
    """The calling tenant's id, or None for the operator (an empty `tenant_id`)."""
    return tenant_of(request) if request.tenant_id else None


def valid_time(value: Timestamp, field: str) -> datetime:
    try:
        return from_timestamp(value)
    except ValueError:
        raise InvalidArgument([FieldViolation(field, "not a valid timestamp")]) from None


def required_time(message: Message, field: str) -> datetime:
    """A timestamp the request must carry: unset, it would read as 1970, which is never
    what a caller meant."""
    if not message.HasField(field):
        raise InvalidArgument([FieldViolation(field, "required")])
    return valid_time(getattr(message, field), field)


def value_of(message: Message, field: str) -> Any:
    """A field's value, or None when the field tracks presence and is unset."""
    tracked = message.DESCRIPTOR.fields_by_name[field].has_presence
    return None if tracked and not message.HasField(field) else getattr(message, field)


def given(**values: Any) -> dict[str, Any]:
    """The fields the caller gave: those left out (None) take the use case's defaults,
    or its required-field errors."""
    return {name: value for name, value in values.items() if value is not None}


def page_args(page: common_pb2.PageRequest) -> tuple[int, str]:
    """A page request as the use cases' last two arguments: size and cursor."""
    return page.page_size, page.cursor


def page_info(next_cursor: str) -> common_pb2.PageInfo:
    """The next page's cursor; the marketplace's lists are never counted."""
    return common_pb2.PageInfo(next_cursor=next_cursor, total=-1)


# --- Replies --------------------------------------------------------------------


def timestamp_fields(**values: datetime | None) -> dict[str, Timestamp]:
    return {name: timestamp(value) for name, value in values.items() if value is not None}


def listing_message(listing: Listing) -> pb.Listing:
    return pb.Listing(
        id=listing.id,
        seller_id=listing.seller_id,
        kind=LISTING_KINDS.to_proto(listing.kind),
        title=listing.title,
        description=listing.description,
        category=listing.category,
        price=listing.price,
        currency=listing.currency,
        unit=UNITS.to_proto(listing.unit),
        min_order_quantity=listing.min_order_quantity,
        lead_time_days=listing.lead_time_days,
        ship_from=listing.ship_from,
        status=LISTING_STATUSES.to_proto(listing.status),
        version=listing.version,
        device_id=listing.device_id or "",
        stock=listing.stock,
        **timestamp_fields(created_at=listing.created_at, updated_at=listing.updated_at),
    )


def slot_message(slot: Slot) -> pb.Slot:
    return pb.Slot(**timestamp_fields(starts_at=slot.starts_at, ends_at=slot.ends_at))


def rfq_message(rfq: Rfq, now: datetime) -> pb.Rfq:
    """The RFQ as it stands at `now`: open past its deadline is expired."""
    return pb.Rfq(
        id=rfq.id,
        buyer_id=rfq.buyer_id,
        category=rfq.category,
        title=rfq.title,
        specification=rfq.specification,
        quantity=rfq.quantity,
        unit=UNITS.to_proto(rfq.unit),
        currency=rfq.currency,
        status=RFQ_STATUSES.to_proto(rfq.state_at(now)),
        **timestamp_fields(deadline=rfq.deadline, created_at=rfq.created_at),
    )


def quote_message(quote: Quote, now: datetime) -> pb.Quote:
    """The quote as it stands at `now`: open past its validity is expired."""
    return pb.Quote(
        id=quote.id,
        rfq_id=quote.rfq_id,
        seller_id=quote.seller_id,
        price=quote.price,
        lead_time_days=quote.lead_time_days,
        note=quote.note,
        status=QUOTE_STATUSES.to_proto(quote.state_at(now)),
        **timestamp_fields(valid_until=quote.valid_until, created_at=quote.created_at),
    )


def order_message(order: Order) -> pb.Order:
    return pb.Order(
        id=order.id,
        buyer_id=order.buyer_id,
        seller_id=order.seller_id,
        currency=order.currency,
        total=order.total,
        fee=order.fee,
        state=ORDER_STATES.to_proto(order.state),
        version=order.version,
        quote_id=order.quote_id or "",
        escrow_transfer_id=order.escrow_transfer_id or "",
        **timestamp_fields(created_at=order.created_at, updated_at=order.updated_at),
    )


def line_message(line: OrderLine) -> pb.OrderLine:
    return pb.OrderLine(
        line_no=line.line_no,
        listing_id=line.listing_id or "",
        description=line.description,
        quantity=line.quantity,
        unit_price=line.unit_price,
        amount=line.amount,
    )


def transition_message(transition: dict[str, Any]) -> pb.OrderTransition:
    """A row of an order's history; its first, the placement, comes from no state."""
    before = transition["from_state"]
    return pb.OrderTransition(
        version=transition["version"],
        from_state=ORDER_STATES.to_proto(OrderState(before)) if before else pb.ORDER_STATE_UNSPECIFIED,
        to_state=ORDER_STATES.to_proto(OrderState(transition["to_state"])),
        actor=transition["actor"],
        reason=transition["reason"],
        **timestamp_fields(at=transition["at"]),
    )


def transfer_message(transfer: Transfer) -> pb.Transfer:
    return pb.Transfer(
        id=transfer.id,
        kind=TRANSFER_KINDS.to_proto(transfer.kind),
        debit_account_id=transfer.debit_account_id,
        credit_account_id=transfer.credit_account_id,
        amount=transfer.amount,
        currency=transfer.currency,
        code=transfer.code,
        reason=transfer.reason,
        actor=transfer.actor,
        pending_id=transfer.pending_id or "",
        batch_id=transfer.batch_id or "",
        order_id=transfer.order_id or "",
        **timestamp_fields(created_at=transfer.created_at),
    )


def account_message(account: Account) -> pb.Account:
    return pb.Account(
        id=account.id,
        owner=account.owner,
        kind=ACCOUNT_KINDS.to_proto(account.kind),
        currency=account.currency,
        debits_posted=account.debits_posted,
        credits_posted=account.credits_posted,
        debits_pending=account.debits_pending,
        credits_pending=account.credits_pending,
        balance=account.balance,
        spendable=account.spendable,
    )
