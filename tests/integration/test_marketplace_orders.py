"""Orders on SQLite and PostgreSQL: their lifecycle with the money in escrow, exact to the
fen, race-free stock and slots, and every refusal leaving everything as it was."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import insert

from services.kit.bus import ConfirmingPublisher
from services.kit.errors import FailedPrecondition, InvalidArgument, NotFound
from services.marketplace.domain.ledger import PLATFORM
from services.marketplace.domain.orders import OrderState
from services.marketplace.storage import quotes, rfqs
from tests.support.backends import postgres_database
from tests.support.marketplace import COMPLETED_ORDER_STATES, NOW, Market, act, marketplace_store


@pytest.fixture
def market(database_url: str, publisher: ConfirmingPublisher) -> Iterator[Market]:
    with marketplace_store(database_url, publisher) as store:
        yield Market(store)


def test_a_product_order_goes_from_placed_to_completed_exact_to_the_fen(market: Market) -> None:
    buyer, seller = market.funded_tenant(), market.funded_tenant(0)
    listing = market.listing(seller, price=1_499)
    order = market.orders.place(act(buyer), listing, 7)
    assert (order.state, order.total, order.fee) == (OrderState.PLACED, 10_493, 209)
    assert market.stock(listing) == 3
    market.orders.fund(act(buyer), order.id)
    assert market.available(buyer) == {"available": 100_000 - 10_493, "escrow": 0}
    market.deliver(order.id, buyer, seller)
    done = market.orders.complete(act(buyer), order.id)
    assert done.state == OrderState.COMPLETED
    assert market.available(buyer) == {"available": 89_507, "escrow": 0}
    assert market.available(seller) == {"available": 10_493 - 209}
    assert market.available(PLATFORM)["fee_revenue"] == 209
    assert market.ledger.imbalances() == {}
    record = market.orders.get(seller, order.id)
    assert [(line.quantity, line.unit_price, line.amount) for line in record.lines] == [(7, 1_499, 10_493)]
    assert [h["to_state"] for h in record.history] == COMPLETED_ORDER_STATES
    assert record.history[-1]["actor"] == f"tenant:{buyer}"
    # A completed order is moved no further, by either party or the operator.
    assert record.moves == [] and market.orders.get(None, order.id).moves == []


def test_cancelling_a_funded_order_returns_the_money_and_the_stock(market: Market) -> None:
    buyer, seller = market.funded_tenant(), market.funded_tenant(0)
    listing = market.listing(seller)
    order = market.orders.place(act(buyer), listing, 2)
    market.orders.fund(act(buyer), order.id)
    market.orders.cancel(act(seller), order.id)
    assert market.available(buyer) == {"available": 100_000, "escrow": 0}
    assert market.stock(listing) == 10
    assert market.ledger.imbalances() == {}


def test_a_dispute_freezes_the_escrow_until_the_operator_splits_it(market: Market) -> None:
    buyer, seller = market.funded_tenant(), market.funded_tenant(0)
    order = market.orders.place(act(buyer), market.listing(seller, kind="capability", price=10_000), 1)
    market.orders.fund(act(buyer), order.id)
    market.orders.advance(act(seller), order.id, OrderState.ACCEPTED)
    market.orders.advance(act(buyer), order.id, OrderState.DISPUTED)
    with pytest.raises(FailedPrecondition):
        market.orders.complete(act(buyer), order.id)
    with pytest.raises(FailedPrecondition):
        market.orders.resolve_dispute(act(buyer), order.id, refund=10_000)
    with pytest.raises(InvalidArgument):
        market.orders.resolve_dispute(act(None), order.id, refund=10_001)
    market.orders.resolve_dispute(act(None), order.id, refund=4_000)
    # 6,000 released: 2% fee (120) to the platform, 5,880 to the seller.
    assert market.available(buyer) == {"available": 94_000, "escrow": 0}
    assert market.available(seller) == {"available": 5_880}
    assert market.available(PLATFORM)["fee_revenue"] == 120
    assert market.ledger.imbalances() == {}


@pytest.mark.parametrize(
    ("mover", "move"),
    [
        ("seller", lambda o, c, i: o.fund(c, i)),
        ("buyer", lambda o, c, i: o.advance(c, i, OrderState.ACCEPTED)),
        ("buyer", lambda o, c, i: o.complete(c, i)),
        ("seller", lambda o, c, i: o.advance(c, i, OrderState.SHIPPED)),
        ("buyer", lambda o, c, i: o.advance(c, i, OrderState.DISPUTED)),
    ],
)
def test_illegal_moves_are_refused_and_change_nothing(market: Market, mover: str, move: object) -> None:
    buyer, seller = market.funded_tenant(), market.funded_tenant(0)
    order = market.orders.place(act(buyer), market.listing(seller), 1)
    with pytest.raises(FailedPrecondition):
        move(market.orders, act(buyer if mover == "buyer" else seller), order.id)  # type: ignore[operator]
    assert market.orders.get(buyer, order.id)[0] == order
    assert market.available(buyer) == {"available": 100_000}


def test_what_must_not_be_done_is_refused_and_writes_nothing(market: Market) -> None:
    buyer, seller, stranger = market.funded_tenant(1_000), market.funded_tenant(0), market.funded_tenant()
    listing = market.listing(seller, price=600)
    with pytest.raises(FailedPrecondition):
        market.orders.place(act(seller), listing, 1)  # buying from oneself
    with pytest.raises(NotFound):
        market.orders.place(act(buyer), market.listing(seller, status="draft"), 1)
    with pytest.raises(FailedPrecondition):
        market.orders.place(act(buyer), listing, 11)  # more than the stock
    for quantity in (0, -1, True, 2.0, 10**10):
        with pytest.raises(InvalidArgument):
            market.orders.place(act(buyer), listing, quantity)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        market.orders.place(act(buyer), market.listing(seller, min_order_quantity=5), 2)
    order = market.orders.place(act(buyer), listing, 2)
    with pytest.raises(FailedPrecondition):
        market.orders.fund(act(buyer), order.id)  # 1,200 > 1,000
    for move in (market.orders.fund, market.orders.cancel):
        with pytest.raises(NotFound):
            move(act(stranger), order.id)
    with pytest.raises(NotFound):
        market.orders.get(stranger, order.id)
    assert market.orders.get(buyer, order.id)[0].state == OrderState.PLACED
    assert market.stock(listing) == 8
    # A refused funding may leave an escrow account opened, empty.
    assert market.available(buyer) in ({"available": 1_000}, {"available": 1_000, "escrow": 0})


def test_a_retried_funding_holds_the_money_once(market: Market) -> None:
    buyer, seller = market.funded_tenant(), market.funded_tenant(0)
    order = market.orders.place(act(buyer), market.listing(seller), 1)
    first = market.orders.fund(act(buyer, "fund-1"), order.id)
    again = market.orders.fund(act(buyer, "fund-1"), order.id)
    assert again == first and again.escrow_transfer_id
    assert market.available(buyer) == {"available": 98_500, "escrow": 0}


def test_capacity_is_booked_by_the_hour(market: Market) -> None:
    buyer, seller = market.funded_tenant(), market.funded_tenant(0)
    listing = market.listing(seller, kind="capacity", price=800)
    hours = [NOW + timedelta(hours=2), NOW + timedelta(hours=3)]
    order = market.orders.place(act(buyer), listing, 2, hours)
    assert order.total == 1_600
    with pytest.raises(FailedPrecondition):
        market.orders.place(act(buyer), listing, 1, [NOW + timedelta(hours=3)])
    with pytest.raises(FailedPrecondition):
        market.orders.place(act(buyer), listing, 1, [NOW + timedelta(days=30)])  # not offered
    with pytest.raises(InvalidArgument):
        market.orders.place(act(buyer), listing, 2, [NOW])  # one slot for two hours
    market.orders.cancel(act(buyer), order.id)
    assert market.orders.place(act(buyer), listing, 1, [NOW + timedelta(hours=3)]).state == OrderState.PLACED


def test_an_accepted_quote_becomes_an_order_and_an_expired_one_cannot(market: Market) -> None:
    buyer, seller = market.funded_tenant(), market.funded_tenant(0)
    rfq_id, quote_id, stale_id = (str(uuid.uuid4()) for _ in range(3))
    with market.store.engine.begin() as connection:
        connection.execute(
            insert(rfqs).values(
                id=rfq_id,
                buyer_id=buyer,
                category="casting",
                title="Pump housings",
                specification="GG25",
                quantity=500,
                unit="piece",
                currency="CNY",
                deadline=NOW + timedelta(days=10),
                status="open",
                created_at=NOW,
            )
        )
        connection.execute(
            insert(quotes),
            [
                {
                    "id": quote_id,
                    "rfq_id": rfq_id,
                    "seller_id": seller,
                    "price": 42_000,
                    "lead_time_days": 20,
                    "valid_until": NOW + timedelta(days=5),
                    "note": "",
                    "status": "open",
                    "created_at": NOW,
                },
                {
                    "id": stale_id,
                    "rfq_id": rfq_id,
                    "seller_id": str(uuid.uuid4()),
                    "price": 40_000,
                    "lead_time_days": 20,
                    "valid_until": NOW - timedelta(hours=1),
                    "note": "",
                    "status": "open",
                    "created_at": NOW,
                },
            ],
        )
    with pytest.raises(FailedPrecondition):
        market.orders.place_from_quote(act(buyer), stale_id)
    with pytest.raises(NotFound):
        market.orders.place_from_quote(act(seller), quote_id)
    order = market.orders.place_from_quote(act(buyer), quote_id)
    assert (order.seller_id, order.total, order.fee, order.quote_id) == (seller, 42_000, 840, quote_id)


@pytest.fixture
def postgres_market(publisher: ConfirmingPublisher) -> Iterator[Market]:
    with postgres_database() as url, marketplace_store(url, publisher) as store:
        yield Market(store)


def test_buyers_racing_for_the_last_items_never_oversell(postgres_market: Market) -> None:
    market = postgres_market
    seller = market.funded_tenant(0)
    listing = market.listing(seller, stock=3)
    buyers = [market.funded_tenant() for _ in range(10)]

    def buy(buyer: str) -> bool:
        try:
            market.orders.place(act(buyer), listing, 1)
            return True
        except FailedPrecondition:
            return False

    with ThreadPoolExecutor(10) as pool:
        assert sum(pool.map(buy, buyers)) == 3
    assert market.stock(listing) == 0


def test_buyers_racing_for_one_machine_hour_get_it_once(postgres_market: Market) -> None:
    market = postgres_market
    listing = market.listing(market.funded_tenant(0), kind="capacity")
    buyers = [market.funded_tenant() for _ in range(8)]

    def book(buyer: str) -> bool:
        try:
            market.orders.place(act(buyer), listing, 1, [NOW + timedelta(hours=5)])
            return True
        except FailedPrecondition:
            return False

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(book, buyers)) == 1


def test_orders_racing_for_one_balance_never_overdraw_it(postgres_market: Market) -> None:
    market = postgres_market
    buyer, seller = market.funded_tenant(1_000), market.funded_tenant(0)
    listing = market.listing(seller, kind="capability", price=600)
    placed = [market.orders.place(act(buyer), listing, 1) for _ in range(6)]

    def fund(order_id: str) -> bool:
        try:
            market.orders.fund(act(buyer), order_id)
            return True
        except FailedPrecondition:
            return False

    with ThreadPoolExecutor(6) as pool:
        assert sum(pool.map(fund, [o.id for o in placed])) == 1
    assert market.available(buyer) == {"available": 400, "escrow": 0}
    assert market.ledger.imbalances() == {}


def test_a_tenant_pages_through_its_orders_as_buyer_and_seller(market: Market) -> None:
    buyer, seller, stranger = market.funded_tenant(), market.funded_tenant(0), market.funded_tenant(0)
    listing = market.listing(seller)
    placed = {market.orders.place(act(buyer), listing, 1).id for _ in range(3)}
    for tenant in (buyer, seller):
        first, cursor = market.orders.list(tenant, 2, "")
        rest, last = market.orders.list(tenant, 2, cursor)
        assert (len(first), len(rest), last) == (2, 1, "")
        assert {o.id for o in first + rest} == placed
    assert market.orders.list(stranger, 50, "") == ([], "")
    with pytest.raises(InvalidArgument):
        market.orders.list(stranger, 2, cursor)  # a cursor of another tenant's list
