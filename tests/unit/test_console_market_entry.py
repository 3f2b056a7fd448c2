"""What people type into the marketplace's forms, read as the API takes it: amounts exactly
into minor units, whole numbers within 64 bits, days ending in the reader's zone, and every
field that cannot be read named at once; and the moves each party may make of an order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from services.console.market.entry import Entry, Unreadable
from services.console.market.values import moves_offered
from services.marketplace.api.messages import ORDER_STATES
from services.marketplace.domain.orders import Order, OrderState, Role


@pytest.mark.parametrize(
    ("written", "currency", "minor_units"),
    [
        ("1234.56", "CNY", 123_456),
        ("1,234.56", "USD", 123_456),
        ("0.1", "EUR", 10),
        ("7", "CNY", 700),
        ("  19.90 ", "CNY", 1_990),
        ("92233720368547758.07", "CNY", 2**63 - 1),
    ],
)
def test_an_amount_is_read_exactly_in_minor_units(written: str, currency: str, minor_units: int) -> None:
    entry = Entry({"price": written})
    assert entry.amount("price", currency) == minor_units
    entry.check()


@pytest.mark.parametrize("written", ["12.345", "1e30", "92233720368547758.08", "NaN", "Infinity", "abc", ""])
def test_an_amount_that_is_not_one_is_named(written: str) -> None:
    entry = Entry({"price": written})
    entry.amount("price", "CNY")
    with pytest.raises(Unreadable) as unreadable:
        entry.check()
    assert unreadable.value.fields == {"price"}


def test_whole_numbers_and_choices_are_named_together() -> None:
    entry = Entry({"quantity": "1.5", "stock": "99999999999999999999", "unit": "barrel", "lead": ""})
    assert entry.whole("lead", default=0) == 0
    entry.whole("quantity")
    entry.whole("stock")
    entry.choice("unit", ("piece", "hour", "kg"))
    with pytest.raises(Unreadable) as unreadable:
        entry.check()
    assert unreadable.value.fields == {"quantity", "stock", "unit"}


def test_a_day_ends_at_midnight_in_the_readers_zone() -> None:
    stamp = Entry({"deadline": "2027-01-15"}).day_end("deadline", ZoneInfo("Asia/Shanghai"))
    assert stamp.ToDatetime(tzinfo=UTC) == datetime(2027, 1, 15, 15, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("state", "party", "moves"),
    [
        ("placed", "buyer", ["fund", "cancel"]),
        ("placed", "seller", ["cancel"]),
        ("funded", "seller", ["accept", "cancel", "dispute"]),
        ("in_production", "seller", ["ship", "dispute"]),
        ("shipped", "buyer", ["deliver", "dispute"]),
        ("delivered", "buyer", ["complete", "dispute"]),
        ("delivered", "seller", ["dispute"]),
        ("completed", "buyer", []),
        ("disputed", "seller", []),
    ],
)
def test_each_party_is_offered_the_moves_the_marketplace_allows(
    state: str, party: str, moves: list[str]
) -> None:
    now = datetime(2027, 1, 15, tzinfo=UTC)
    order = Order(str(uuid.uuid4()), "buyer", "seller", "CNY", 10_000, 200, OrderState(state), 3, now, now)
    allowed = [ORDER_STATES.to_proto(target) for target in order.moves_of(Role(party))]
    assert moves_offered(allowed) == moves


def test_the_operator_is_offered_no_move_of_a_party() -> None:
    now = datetime(2027, 1, 15, tzinfo=UTC)
    order = Order(str(uuid.uuid4()), "buyer", "seller", "CNY", 10_000, 200, OrderState.DISPUTED, 3, now, now)
    assert order.moves_of(Role.OPERATOR) == [OrderState.RESOLVED]
    assert moves_offered([ORDER_STATES.to_proto(OrderState.RESOLVED)]) == []
