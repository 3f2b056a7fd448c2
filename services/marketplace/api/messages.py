"""Conversions between the marketplace's protobuf messages and its domain values.

Requests are checked here only for what protobuf itself cannot say: enum numbers the
contract does not define, timestamps that are missing or out of range, and the
caller's id (which names fields of the use cases' errors). Everything else is the use
cases' to check, so that every adapter refuses the same input the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gantry.v1 import marketplace_pb2 as pb

from services.kit.protos import EnumMap, enum_number, timestamp_fields
from services.marketplace.domain.catalogue import ListingKind, ListingStatus, Unit
from services.marketplace.domain.ledger import Account, AccountKind, Transfer, TransferKind
from services.marketplace.domain.listings import CapacityMeasurement, Listing, Slot
from services.marketplace.domain.orders import Order, OrderLine, OrderState
from services.marketplace.domain.rfqs import Quote, QuoteStatus, Rfq, RfqStatus

LISTING_KINDS = EnumMap(pb.ListingKind, "LISTING_KIND_", ListingKind)
LISTING_STATUSES = EnumMap(pb.ListingStatus, "LISTING_STATUS_", ListingStatus)
UNITS = EnumMap(pb.Unit, "UNIT_", Unit)
RFQ_STATUSES = EnumMap(pb.RfqStatus, "RFQ_STATUS_", RfqStatus)
QUOTE_STATUSES = EnumMap(pb.QuoteStatus, "QUOTE_STATUS_", QuoteStatus)
ORDER_STATES = EnumMap(pb.OrderState, "ORDER_STATE_", OrderState)
ACCOUNT_KINDS = EnumMap(pb.AccountKind, "ACCOUNT_KIND_", AccountKind)
TRANSFER_KINDS = EnumMap(pb.TransferKind, "TRANSFER_KIND_", TransferKind)
SECONDS_PER_HOUR = 3600


# --- Replies --------------------------------------------------------------------


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
        measured=measurement_message(listing.measured) if listing.measured else None,
        **timestamp_fields(created_at=listing.created_at, updated_at=listing.updated_at),
    )


def measurement_message(measured: CapacityMeasurement) -> pb.CapacityMeasurement:
    mtbf = measured.mtbf_seconds
    return pb.CapacityMeasurement(
        idle_hours_per_week=measured.idle_hours_per_week,
        utilisation=measured.utilisation,
        oee=measured.oee,
        # Buyers plan in hours, as listings sell them.
        mtbf_hours=None if mtbf is None else mtbf / SECONDS_PER_HOUR,
        idle_hours_next_week=measured.idle_hours_next_week,
        **timestamp_fields(start=measured.start, end=measured.end, measured_at=measured.measured_at),
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


def slot_evidence_message(evidence: dict[str, Any]) -> pb.SlotEvidence:
    """A row of an order's slots' evidence."""
    times = ("starts_at", "ends_at", "measured_at")
    return pb.SlotEvidence(
        **{name: value for name, value in evidence.items() if name not in (*times, "order_id", "verdict")},
        verdict=enum_number(pb.SlotVerdict, evidence["verdict"], "SLOT_VERDICT_"),
        **timestamp_fields(**{name: evidence[name] for name in times}),
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
