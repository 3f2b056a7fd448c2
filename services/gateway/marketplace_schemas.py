"""The marketplace's JSON bodies at the gateway. Field names are those of
protos/gantry/v1/marketplace.proto, so that the marketplace's field errors name the
body's fields; the marketplace checks what these schemas leave open (categories,
currencies, regions, text content) and refuses what a pattern here lets through, such
as a trailing newline."""

from __future__ import annotations

from typing import Any

from gantry.v1 import marketplace_pb2 as pb
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from marshmallow import Schema, fields, validate

from services.gateway.schemas import INT32_MAX, INT64_MAX, PageQuery, Patch
from services.kit.protos import enum_prefix
from services.kit.validation import text


def names(enum: EnumTypeWrapper) -> tuple[str, ...]:
    """The lower-case names of a protobuf enum's values but UNSPECIFIED, without the
    prefix they share: ListingKind -> ("capability", "capacity", "product")."""
    prefix = enum_prefix(enum.DESCRIPTOR)
    return tuple(enum.Name(number).removeprefix(prefix).lower() for number in enum.values() if number)


LISTING_KINDS = names(pb.ListingKind)
LISTING_STATUSES = names(pb.ListingStatus)
UNITS = names(pb.Unit)
ORDER_STATES = names(pb.OrderState)

_CATEGORY_RULE = validate.Regexp(r"^[a-z_]{1,32}$")
_CATEGORY_DOC = {
    "description": "One of cnc_machining, injection_moulding, casting, sheet_metal, "
    "additive_manufacturing, assembly, testing, parts"
}
_CURRENCY_RULE = validate.Regexp(r"^[A-Z]{3}$")
_CURRENCY_DOC = {"description": "ISO 4217: CNY (the default), USD or EUR", "example": "CNY"}
_REGION = validate.Regexp(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")
_REGION_DOC = {"description": 'ISO 3166-1 alpha-2 country or ISO 3166-2 subdivision: "CN", "CN-32"'}
_DAY = validate.Regexp(r"^\d{4}-\d{2}-\d{2}$")
_MONEY_DOC = {"description": "Integer minor units (fen, cent) of the currency"}


def money(required: bool = True, minimum: int = 1) -> fields.Integer:
    return fields.Integer(
        required=required,
        strict=True,
        validate=validate.Range(min=minimum, max=INT64_MAX),
        metadata=_MONEY_DOC,
    )


def count(minimum: int = 1, maximum: int = INT64_MAX, **kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=minimum, max=maximum), **kwargs)


def category_field(**kwargs: Any) -> fields.String:
    return fields.String(validate=_CATEGORY_RULE, metadata=_CATEGORY_DOC, **kwargs)


def currency_field(description: str = _CURRENCY_DOC["description"], **kwargs: Any) -> fields.String:
    return fields.String(
        validate=_CURRENCY_RULE, metadata={**_CURRENCY_DOC, "description": description}, **kwargs
    )


class Reasoned(Schema):
    """A move of money or of an order, and why."""

    reason = text(500, metadata={"description": "Why, kept with every transfer and change of state"})


# --- Listings ---------------------------------------------------------------------


class ListingCreate(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(LISTING_KINDS))
    title = text(200)
    description = text(5000, required=False, load_default="")
    category = category_field(required=True)
    price = money()
    currency = currency_field(load_default=None)
    unit = fields.String(required=True, validate=validate.OneOf(UNITS))
    min_order_quantity = count(load_default=1)
    lead_time_days = count(0, INT32_MAX, load_default=0)
    ship_from = fields.String(required=True, validate=_REGION, metadata=_REGION_DOC)
    device_id = fields.UUID(
        metadata={"description": "Capacity only: the registered device whose machine-hours are sold"}
    )
    stock = count(0, metadata={"description": "Products only, and required for them"})


class Listing(Schema):
    id = fields.UUID(required=True)
    seller_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(LISTING_KINDS))
    title = fields.String(required=True)
    description = fields.String(required=True)
    category = fields.String(required=True)
    price = fields.Integer(required=True, metadata=_MONEY_DOC)
    currency = fields.String(required=True)
    unit = fields.String(required=True, validate=validate.OneOf(UNITS))
    min_order_quantity = fields.Integer(required=True)
    lead_time_days = fields.Integer(required=True)
    ship_from = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(LISTING_STATUSES))
    version = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    device_id = fields.String(required=True, metadata={"description": "empty but for capacity"})
    stock = fields.Integer(required=True, allow_none=True, metadata={"description": "null but for products"})


class ListingPatch(Patch):
    title = text(200, required=False)
    description = text(5000, required=False)
    price = money(required=False)
    lead_time_days = count(0, INT32_MAX)
    min_order_quantity = count()
    stock = count(0, metadata={"description": "Products only"})


class ListingStatusChange(Schema):
    status = fields.String(
        required=True,
        validate=validate.OneOf(LISTING_STATUSES),
        metadata={"description": "draft -> published <-> paused, and from any to closed, which is final"},
    )


class ListingSearchQuery(PageQuery):
    category = category_field(load_default=None)
    kind = fields.String(load_default=None, validate=validate.OneOf(LISTING_KINDS))
    ship_from = fields.String(
        load_default=None, validate=_REGION, metadata={"description": "A country matches its subdivisions"}
    )
    currency = currency_field(load_default=None)
    min_price = money(required=False, minimum=0)
    max_price = money(required=False, minimum=0)
    text = fields.String(
        load_default="",
        validate=validate.Length(max=200),
        metadata={"description": "Text the title contains, ignoring case"},
    )
    order_by = fields.String(
        load_default="-created_at", validate=validate.OneOf(("-created_at", "price", "-price"))
    )


class OwnListingsQuery(PageQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(LISTING_STATUSES))


class ListingList(Schema):
    items = fields.List(fields.Nested(Listing), required=True)
    next_cursor = fields.String(required=True, metadata={"description": "empty on the last page"})


class AvailabilityAdded(Schema):
    opened = fields.Integer(required=True, metadata={"description": "Slots that were not open already"})


class Slot(Schema):
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True)


class SlotList(Schema):
    items = fields.List(fields.Nested(Slot), required=True)


# --- Requests for quotation -------------------------------------------------------


class RfqCreate(Schema):
    category = category_field(required=True)
    title = text(200)
    specification = text(10_000, required=False, load_default="")
    quantity = count(required=True)
    unit = fields.String(required=True, validate=validate.OneOf(UNITS))
    currency = currency_field(load_default=None)
    deadline = fields.AwareDateTime(
        required=True, metadata={"description": "RFC 3339; after now, at most 365 days ahead"}
    )


class Quote(Schema):
    id = fields.UUID(required=True)
    rfq_id = fields.UUID(required=True)
    seller_id = fields.UUID(required=True)
    price = fields.Integer(required=True, metadata={"description": "The whole price, in minor units"})
    lead_time_days = fields.Integer(required=True)
    valid_until = fields.DateTime(required=True)
    note = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(names(pb.QuoteStatus)))
    created_at = fields.DateTime(required=True)


class Rfq(Schema):
    id = fields.UUID(required=True)
    buyer_id = fields.UUID(required=True)
    category = fields.String(required=True)
    title = fields.String(required=True)
    specification = fields.String(required=True)
    quantity = fields.Integer(required=True)
    unit = fields.String(required=True, validate=validate.OneOf(UNITS))
    currency = fields.String(required=True)
    deadline = fields.DateTime(required=True)
    status = fields.String(required=True, validate=validate.OneOf(names(pb.RfqStatus)))
    created_at = fields.DateTime(required=True)


class RfqWithQuotes(Rfq):
    quotes = fields.List(
        fields.Nested(Quote),
        required=True,
        metadata={"description": "Every quote for the buyer; a seller's own for a seller"},
    )


class RfqListQuery(PageQuery):
    category = category_field(load_default=None)


class RfqList(Schema):
    items = fields.List(fields.Nested(Rfq), required=True)
    next_cursor = fields.String(required=True, metadata={"description": "empty on the last page"})


class QuoteCreate(Schema):
    price = money()
    currency = currency_field("The RFQ's, when given", load_default=None)
    lead_time_days = count(0, 365, load_default=0)
    valid_until = fields.AwareDateTime(
        required=True, metadata={"description": "RFC 3339; after now, at most 90 days ahead"}
    )
    note = text(2000, required=False, load_default="")


# --- Orders -----------------------------------------------------------------------


class OrderCreate(Reasoned):
    listing_id = fields.UUID(required=True)
    quantity = count(required=True, metadata={"description": "For capacity, the hours booked"})
    slots = fields.List(
        fields.AwareDateTime(),
        load_default=list,
        validate=validate.Length(max=24 * 90),
        metadata={"description": "Capacity only: the start of each hour booked"},
    )


class DisputeRuling(Reasoned):
    refund = money(minimum=0)


class Order(Schema):
    id = fields.UUID(required=True)
    buyer_id = fields.UUID(required=True)
    seller_id = fields.UUID(required=True)
    currency = fields.String(required=True)
    total = fields.Integer(required=True, metadata=_MONEY_DOC)
    fee = fields.Integer(required=True, metadata={"description": "The platform's, out of the total"})
    state = fields.String(required=True, validate=validate.OneOf(ORDER_STATES))
    version = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    quote_id = fields.String(required=True, metadata={"description": "empty for a listing's order"})
    escrow_transfer_id = fields.String(required=True, metadata={"description": "empty until funded"})


class OrderLine(Schema):
    line_no = fields.Integer(required=True)
    listing_id = fields.String(required=True)
    description = fields.String(required=True)
    quantity = fields.Integer(required=True)
    unit_price = fields.Integer(required=True)
    amount = fields.Integer(required=True)


class OrderTransition(Schema):
    version = fields.Integer(required=True)
    from_state = fields.String(
        required=True, allow_none=True, metadata={"description": "null for the placement"}
    )
    to_state = fields.String(required=True, validate=validate.OneOf(ORDER_STATES))
    actor = fields.String(required=True, metadata={"description": '"tenant:<id>" or "operator"'})
    reason = fields.String(required=True)
    at = fields.DateTime(required=True)


class OrderDetail(Order):
    lines = fields.List(fields.Nested(OrderLine), required=True)
    history = fields.List(fields.Nested(OrderTransition), required=True)


class OrderList(Schema):
    items = fields.List(fields.Nested(Order), required=True)
    next_cursor = fields.String(required=True, metadata={"description": "empty on the last page"})


# --- Accounts ---------------------------------------------------------------------


class DepositCreate(Reasoned):
    credit_tenant_id = fields.UUID(required=True, metadata={"description": "The tenant credited"})
    currency = currency_field(required=True)
    amount = money()


class WithdrawalCreate(Reasoned):
    currency = currency_field(required=True)
    amount = money()


class Transfer(Schema):
    id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(names(pb.TransferKind)))
    debit_account_id = fields.UUID(required=True)
    credit_account_id = fields.UUID(required=True)
    amount = fields.Integer(required=True, metadata=_MONEY_DOC)
    currency = fields.String(required=True)
    code = fields.String(required=True)
    reason = fields.String(required=True)
    actor = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    pending_id = fields.String(required=True)
    batch_id = fields.String(required=True)
    order_id = fields.String(required=True)


class Account(Schema):
    id = fields.UUID(required=True)
    owner = fields.String(required=True, metadata={"description": 'A tenant\'s id, or "platform"'})
    kind = fields.String(required=True, validate=validate.OneOf(names(pb.AccountKind)))
    currency = fields.String(required=True)
    debits_posted = fields.Integer(required=True)
    credits_posted = fields.Integer(required=True)
    debits_pending = fields.Integer(required=True)
    credits_pending = fields.Integer(required=True)
    balance = fields.Integer(required=True, metadata={"description": "Posted credits less posted debits"})
    spendable = fields.Integer(required=True, metadata={"description": "The balance less pending debits"})


class AccountList(Schema):
    items = fields.List(fields.Nested(Account), required=True)


class Imbalance(Schema):
    currency = fields.String(required=True)
    posted = fields.Integer(required=True)
    pending = fields.Integer(required=True)


class LedgerCheck(Schema):
    balanced = fields.Boolean(required=True)
    imbalances = fields.List(fields.Nested(Imbalance), required=True)


# --- Platform figures -------------------------------------------------------------


class StatsQuery(Schema):
    from_day = fields.String(
        load_default=None,
        validate=_DAY,
        metadata={"description": "First UTC day, YYYY-MM-DD; 29 days before to_day when absent"},
    )
    to_day = fields.String(
        load_default=None,
        validate=_DAY,
        metadata={
            "description": "Last UTC day, YYYY-MM-DD, at most 365 days after from_day; today when absent"
        },
    )


class CurrencyFigures(Schema):
    currency = fields.String(required=True)
    completed_orders = fields.Integer(required=True)
    amount = fields.Integer(required=True, metadata={"description": "The orders' totals, in minor units"})


class DayFigures(Schema):
    day = fields.Date(required=True)
    currencies = fields.List(fields.Nested(CurrencyFigures), required=True)


class PlatformStats(Schema):
    registered_companies = fields.Integer(required=True)
    companies_abroad = fields.Integer(required=True)
    home_country = fields.String(required=True)
    totals = fields.List(
        fields.Nested(CurrencyFigures), required=True, metadata={"description": "Since the start"}
    )
    days = fields.List(
        fields.Nested(DayFigures), required=True, metadata={"description": "Days with completions"}
    )
    from_day = fields.Date(required=True)
    to_day = fields.Date(required=True)
