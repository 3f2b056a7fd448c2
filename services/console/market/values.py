"""The marketplace's messages as the pages show them: enum values as the lower-case names
the templates translate, times as aware datetimes, money kept in integer minor units."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from gantry.v1 import marketplace_pb2 as pb
from google.protobuf.message import Message

from services.console.plant_values import moment_of
from services.marketplace.domain import catalogue

# The words of the marketplace's own catalogue: one list, which the forms offer.
CATEGORIES = catalogue.CATEGORIES
CURRENCIES = catalogue.CURRENCIES
KINDS = tuple(catalogue.ListingKind)
UNITS = tuple(catalogue.Unit)
# Ordered by quantity; a capacity listing's hours are booked by slot instead.
ORDERABLE_KINDS = ("capability", "product")


def _prefix(enum: Any) -> str:
    """A value's prefix is its type's name: `ListingStatus` -> `LISTING_STATUS_`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", enum.DESCRIPTOR.name).upper() + "_"


def name_of(enum: Any, value: int) -> str:
    """`LISTING_STATUS_DRAFT` as "draft"."""
    return enum.Name(value).removeprefix(_prefix(enum)).lower()


def value_of(enum: Any, name: str) -> int:
    """ "draft" as `LISTING_STATUS_DRAFT`; ValueError for a name the enum lacks."""
    return enum.Value(_prefix(enum) + name.upper())


def listing_view(listing: pb.Listing, tenant_id: str) -> dict[str, Any]:
    measured = listing.measured if listing.HasField("measured") else None
    return {
        "id": listing.id,
        "own": listing.seller_id == tenant_id,
        "kind": name_of(pb.ListingKind, listing.kind),
        "title": listing.title,
        "description": listing.description,
        "category": listing.category,
        "price": listing.price,
        "currency": listing.currency,
        "unit": name_of(pb.Unit, listing.unit),
        "min_order_quantity": listing.min_order_quantity,
        "lead_time_days": listing.lead_time_days,
        "ship_from": listing.ship_from,
        "status": name_of(pb.ListingStatus, listing.status),
        "version": listing.version,
        "created_at": moment_of(listing.created_at),
        "device_id": listing.device_id,
        "stock": listing.stock if listing.HasField("stock") else None,
        "measured": _measurement(measured) if measured else None,
    }


def _measurement(measured: pb.CapacityMeasurement) -> dict[str, Any]:
    return {
        "idle_hours_per_week": measured.idle_hours_per_week,
        "idle_hours_next_week": measured.idle_hours_next_week,
        "utilisation": measured.utilisation,
        "oee": measured.oee if measured.HasField("oee") else None,
        "mtbf_hours": measured.mtbf_hours if measured.HasField("mtbf_hours") else None,
        "start": moment_of(measured.start),
        "end": moment_of(measured.end),
    }


def rfq_view(rfq: pb.Rfq, tenant_id: str) -> dict[str, Any]:
    return {
        "id": rfq.id,
        "own": rfq.buyer_id == tenant_id,
        "category": rfq.category,
        "title": rfq.title,
        "specification": rfq.specification,
        "quantity": rfq.quantity,
        "unit": name_of(pb.Unit, rfq.unit),
        "currency": rfq.currency,
        "deadline": moment_of(rfq.deadline),
        "status": name_of(pb.RfqStatus, rfq.status),
        "created_at": moment_of(rfq.created_at),
    }


def quote_view(quote: pb.Quote, tenant_id: str) -> dict[str, Any]:
    return {
        "id": quote.id,
        "own": quote.seller_id == tenant_id,
        "price": quote.price,
        "lead_time_days": quote.lead_time_days,
        "valid_until": moment_of(quote.valid_until),
        "note": quote.note,
        "status": name_of(pb.QuoteStatus, quote.status),
        "created_at": moment_of(quote.created_at),
    }


def order_view(order: pb.Order, tenant_id: str) -> dict[str, Any]:
    return {
        "id": order.id,
        "party": "buyer" if order.buyer_id == tenant_id else "seller",
        "currency": order.currency,
        "total": order.total,
        "fee": order.fee,
        "state": name_of(pb.OrderState, order.state),
        "created_at": moment_of(order.created_at),
        "updated_at": moment_of(order.updated_at),
        "from_quote": bool(order.quote_id),
    }


def plain(message: Message, **names: Any) -> dict[str, Any]:
    """A message's fields by name, with `names` replacing some (enum names, moments)."""
    return {field.name: getattr(message, field.name) for field in message.DESCRIPTOR.fields} | names


def transition_view(change: pb.OrderTransition) -> dict[str, Any]:
    return plain(
        change,
        from_state=name_of(pb.OrderState, change.from_state) if change.from_state else "",
        to_state=name_of(pb.OrderState, change.to_state),
        at=moment_of(change.at),
    )


def account_view(account: pb.Account) -> dict[str, Any]:
    return plain(account, kind=name_of(pb.AccountKind, account.kind))


def entry_view(transfer: pb.Transfer, account_id: str) -> dict[str, Any]:
    """A transfer as an entry of one of its two accounts, signed: what it added to the
    account (a credit) or took from it (a debit, negative). A pending transfer only holds
    money, which its post (of all or part) or void settles: so `change` is what moved the
    balance, `held` what a pending transfer set aside, and either is None otherwise."""
    signed = transfer.amount if transfer.credit_account_id == account_id else -transfer.amount
    kind = name_of(pb.TransferKind, transfer.kind)
    return plain(
        transfer,
        kind=kind,
        created_at=moment_of(transfer.created_at),
        change=signed if kind in ("single", "post") else None,
        held=signed if kind == "pending" else None,
    )


# Each move of an order the console offers, as the gateway names it, and the state it makes.
MOVE_TARGETS: dict[str, str] = {
    "fund": "funded",
    "accept": "accepted",
    "start-production": "in_production",
    "ship": "shipped",
    "deliver": "delivered",
    "complete": "completed",
    "cancel": "cancelled",
    "dispute": "disputed",
}


def moves_offered(allowed: Iterable[int]) -> list[str]:
    """The moves to the states the marketplace says the reader may move the order to."""
    targets = {name_of(pb.OrderState, state) for state in allowed}
    return [move for move, target in MOVE_TARGETS.items() if target in targets]
