"""Orders, accounts and the platform's figures."""

from __future__ import annotations

from gantry.v1 import marketplace_pb2 as pb
from marshmallow import Schema, fields, validate

from services.gateway.schemas.common import count, names
from services.gateway.schemas.marketplace import (
    DAY_RULE,
    MONEY_DOC,
    ORDER_STATES,
    Reasoned,
    currency_field,
    money,
)


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
    total = fields.Integer(required=True, metadata=MONEY_DOC)
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


class SlotEvidence(Schema):
    """What the platform measured of the machine in a booked slot, from its telemetry."""

    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True)
    verdict = fields.String(
        required=True,
        validate=validate.OneOf(names(pb.SlotVerdict)),
        metadata={
            "description": "ran (it produced), idle (neither produced nor failed), down (faulted or failed), "
            "not_measured (no machine model, or nothing reported)"
        },
    )
    producing_seconds = fields.Float(required=True)
    setup_seconds = fields.Float(required=True)
    idle_seconds = fields.Float(required=True)
    down_seconds = fields.Float(
        required=True, metadata={"description": "Faulted time, counted within the site's shifts alone"}
    )
    parts = fields.Float(required=True, metadata={"description": "Parts made in the slot"})
    good_parts = fields.Float(
        required=True, metadata={"description": "Those not scrapped (scrap is counted within shifts alone)"}
    )
    failures = fields.Integer(required=True, metadata={"description": "Faults that started in the slot"})
    measured_at = fields.DateTime(required=True)


class OrderDetail(Order):
    lines = fields.List(fields.Nested(OrderLine), required=True)
    history = fields.List(fields.Nested(OrderTransition), required=True)
    slot_evidence = fields.List(
        fields.Nested(SlotEvidence),
        required=True,
        metadata={"description": "Capacity orders: each booked slot that has ended and been measured"},
    )
    moves = fields.List(
        fields.String(validate=validate.OneOf(ORDER_STATES)),
        required=True,
        metadata={
            "description": "The states the caller may move the order to now: as its buyer, its seller, "
            "or the operator (who rules on disputes)"
        },
    )


class OrderList(Schema):
    items = fields.List(fields.Nested(Order), required=True)
    next_cursor = fields.String(required=True, metadata={"description": "empty on the last page"})


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
    amount = fields.Integer(required=True, metadata=MONEY_DOC)
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


class TransferList(Schema):
    items = fields.List(fields.Nested(Transfer), required=True)
    next_cursor = fields.String(required=True, metadata={"description": "empty on the last page"})


class AccountList(Schema):
    items = fields.List(fields.Nested(Account), required=True)


class Imbalance(Schema):
    currency = fields.String(required=True)
    posted = fields.Integer(required=True)
    pending = fields.Integer(required=True)


class LedgerCheck(Schema):
    balanced = fields.Boolean(required=True)
    imbalances = fields.List(fields.Nested(Imbalance), required=True)


class StatsQuery(Schema):
    from_day = fields.String(
        load_default=None,
        validate=DAY_RULE,
        metadata={"description": "First UTC day, YYYY-MM-DD; 29 days before to_day when absent"},
    )
    to_day = fields.String(
        load_default=None,
        validate=DAY_RULE,
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
