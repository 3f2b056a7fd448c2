"""RFQs and quotes on SQLite and PostgreSQL: who sees what, the rules of quoting, expiry
by a clock the tests move, the acceptance orders make (once, even when raced), and
every refusal leaving the tables as they were."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select

from services.kit import pagination
from services.kit.bus import ConfirmingPublisher
from services.kit.errors import FailedPrecondition, InvalidArgument, NotFound
from services.kit.store import Store
from services.marketplace.domain.ledger import MAX_AMOUNT
from services.marketplace.domain.rfqs import AcceptedQuote, Quote, QuoteStatus, Rfq, RfqStatus
from services.marketplace.queries.rfqs import take_quote
from services.marketplace.storage import quotes, rfqs
from services.marketplace.usecases.rfqs import Rfqs
from tests.support.access import ManualClock
from tests.support.backends import postgres_database
from tests.support.marketplace import marketplace_store

DAY = timedelta(days=1)


def tenant() -> str:
    return str(uuid.uuid4())


class Market:
    """The RFQ use cases on a migrated marketplace store, on a clock the test moves."""

    def __init__(self, store: Store, clock: ManualClock) -> None:
        self.store = store
        self.clock = clock
        self.rfqs = Rfqs(store.unit_of_work, clock)

    def post(self, buyer: str | None = None, **fields: Any) -> Rfq:
        request = {
            "title": "Pump housings",
            "specification": "GG25 grey iron,\nmachined to drawing 4711.",
            "category": "casting",
            "quantity": 500,
            "unit": "piece",
            "deadline": self.clock() + 10 * DAY,
        }
        return self.rfqs.post(buyer or tenant(), {**request, **fields})

    def quote(self, rfq: Rfq, seller: str | None = None, **fields: Any) -> Quote:
        request = {"price": 42_000, "lead_time_days": 20, "valid_until": self.clock() + 5 * DAY}
        return self.rfqs.submit_quote(seller or tenant(), rfq.id, {**request, **fields})

    def take(self, buyer: str, quote_id: str) -> AcceptedQuote:
        """What the orders' use case does: take_quote inside a transaction it commits."""
        with self.store.unit_of_work() as uow:
            accepted = take_quote(uow.connection, buyer, quote_id, self.clock())
            uow.commit()
        return accepted

    def rows(self) -> list[list[tuple[Any, ...]]]:
        """Every row of both tables, to show that a refused call wrote nothing."""
        with self.store.engine.connect() as connection:
            return [
                [tuple(row) for row in connection.execute(select(table).order_by(table.c.id))]
                for table in (rfqs, quotes)
            ]

    def statuses(self, rfq: Rfq) -> tuple[str, dict[str, str]]:
        """The RFQ's stored status, and its quotes'."""
        with self.store.engine.connect() as connection:
            status = connection.execute(select(rfqs.c.status).where(rfqs.c.id == rfq.id)).scalar_one()
            found = connection.execute(select(quotes.c.id, quotes.c.status).where(quotes.c.rfq_id == rfq.id))
            return status, dict(found.tuples().all())


@pytest.fixture
def market(database_url: str, publisher: ConfirmingPublisher, clock: ManualClock) -> Iterator[Market]:
    with marketplace_store(database_url, publisher) as store:
        yield Market(store, clock)


def in_order(*made: Quote) -> list[Quote]:
    """Quotes as an RFQ lists them: oldest first, those of one instant by id."""
    return sorted(made, key=lambda quote: (quote.created_at, quote.id))


def all_pages(list_page: Any, size: int) -> list[Rfq]:
    found, cursor = list_page(size, "")
    pages = [found]
    while cursor:
        found, cursor = list_page(size, cursor)
        pages.append(found)
    assert all(len(page) == size for page in pages[:-1])
    return [rfq for page in pages for rfq in page]


def test_a_posted_rfq_is_open_to_the_market_until_its_deadline(market: Market) -> None:
    buyer, seller = tenant(), tenant()
    shanghai = timezone(timedelta(hours=8))
    deadline = (market.clock() + 3 * DAY).astimezone(shanghai)
    rfq = market.post(buyer, deadline=deadline.isoformat())
    assert (rfq.buyer_id, rfq.currency, rfq.status, rfq.unit) == (buyer, "CNY", RfqStatus.OPEN, "piece")
    assert rfq.deadline == deadline and rfq.deadline.tzinfo is UTC
    assert market.rfqs.get(buyer, rfq.id) == (rfq, [])
    assert market.rfqs.list_open(seller) == ([rfq], "")
    assert market.rfqs.list_open(seller, "casting") == ([rfq], "")
    assert market.rfqs.list_open(seller, "parts") == ([], "")
    assert market.rfqs.list_open(buyer) == ([], "")  # not one's own
    assert market.rfqs.list_own(buyer) == ([rfq], "")
    market.clock.advance(3 * DAY)
    assert rfq.state_at(market.clock()) is RfqStatus.EXPIRED
    assert market.rfqs.list_open(seller) == ([], "")
    assert market.rfqs.list_own(buyer) == ([rfq], "")


def test_the_buyer_sees_every_quote_a_seller_its_own_and_a_stranger_no_closed_rfq(market: Market) -> None:
    buyer, first, second, stranger = tenant(), tenant(), tenant(), tenant()
    rfq = market.post(buyer)
    quote_one, quote_two = market.quote(rfq, first), market.quote(rfq, second, price=39_000)
    assert market.rfqs.get(buyer, rfq.id) == (rfq, in_order(quote_one, quote_two))
    assert market.rfqs.get(first, rfq.id) == (rfq, [quote_one])
    assert market.rfqs.get(stranger, rfq.id) == (rfq, [])  # the market sees an open RFQ
    market.take(buyer, quote_two.id)
    awarded, seen = market.rfqs.get(first, rfq.id)
    assert awarded.status is RfqStatus.AWARDED
    assert [(q.id, q.status) for q in seen] == [(quote_one.id, QuoteStatus.REJECTED)]
    assert {q.id: q.status for q in market.rfqs.get(buyer, rfq.id)[1]} == {
        quote_one.id: QuoteStatus.REJECTED,
        quote_two.id: QuoteStatus.ACCEPTED,
    }
    with pytest.raises(NotFound):
        market.rfqs.get(stranger, rfq.id)
    with pytest.raises(NotFound):
        market.rfqs.get(buyer, str(uuid.uuid4()))


def test_an_expired_rfq_is_hidden_from_sellers_that_did_not_quote(market: Market) -> None:
    buyer, seller, stranger = tenant(), tenant(), tenant()
    rfq = market.post(buyer, deadline=market.clock() + DAY)
    quote = market.quote(rfq, seller, valid_until=market.clock() + 2 * DAY)
    market.clock.advance(DAY)
    assert market.rfqs.get(seller, rfq.id) == (rfq, [quote])
    assert market.rfqs.get(buyer, rfq.id) == (rfq, [quote])
    with pytest.raises(NotFound):
        market.rfqs.get(stranger, rfq.id)


def test_quoting_rules(market: Market) -> None:
    buyer, seller = tenant(), tenant()
    rfq = market.post(buyer, currency="EUR")
    with pytest.raises(FailedPrecondition, match="cannot quote your own request"):
        market.quote(rfq, buyer)
    first = market.quote(rfq, seller, currency="EUR", note="Tooling included.\n\tFOB Ningbo")
    assert (first.price, first.status, first.rfq_id) == (42_000, QuoteStatus.OPEN, rfq.id)
    with pytest.raises(FailedPrecondition, match="already have an open quote"):
        market.quote(rfq, seller)
    market.rfqs.withdraw_quote(seller, first.id)
    second = market.quote(rfq, seller, valid_until=market.clock() + DAY)
    market.clock.advance(DAY)  # the second quote lapses: the seller may quote afresh
    third = market.quote(rfq, seller)
    assert [q.id for q in market.rfqs.get(seller, rfq.id)[1]] == [
        q.id for q in in_order(first, second, third)
    ]
    with pytest.raises(InvalidArgument) as refused:
        market.quote(rfq, tenant(), currency="CNY")
    assert [v.field for v in refused.value.violations] == ["currency"]


@pytest.mark.parametrize("closing", ["expire", "cancel", "award"])
def test_a_closed_rfq_takes_no_quotes(market: Market, closing: str) -> None:
    buyer, seller, late = tenant(), tenant(), tenant()
    rfq = market.post(buyer, deadline=market.clock() + DAY)
    quote = market.quote(rfq, seller, valid_until=market.clock() + 2 * DAY)
    if closing == "expire":
        market.clock.advance(DAY)
    elif closing == "cancel":
        market.rfqs.cancel(buyer, rfq.id)
    else:
        market.take(buyer, quote.id)
    before = market.rows()
    with pytest.raises(FailedPrecondition):
        market.quote(rfq, seller)  # it sees the RFQ, having quoted
    with pytest.raises(NotFound):
        market.quote(rfq, late)
    assert market.rows() == before


def test_a_seller_withdraws_its_own_open_quote_alone(market: Market) -> None:
    buyer, seller = tenant(), tenant()
    rfq = market.post(buyer)
    quote = market.quote(rfq, seller)
    for someone in (buyer, tenant()):
        with pytest.raises(NotFound):
            market.rfqs.withdraw_quote(someone, quote.id)
    with pytest.raises(NotFound):
        market.rfqs.withdraw_quote(seller, str(uuid.uuid4()))
    withdrawn = market.rfqs.withdraw_quote(seller, quote.id)
    assert withdrawn.status is QuoteStatus.WITHDRAWN
    assert market.rfqs.get(buyer, rfq.id)[1] == [withdrawn]
    with pytest.raises(FailedPrecondition, match="withdrawn"):
        market.rfqs.withdraw_quote(seller, quote.id)
    accepted = market.quote(rfq, seller)
    market.take(buyer, accepted.id)
    with pytest.raises(FailedPrecondition, match="accepted"):
        market.rfqs.withdraw_quote(seller, accepted.id)


def test_the_buyer_cancels_an_open_rfq_and_its_open_quotes_are_rejected(market: Market) -> None:
    buyer, seller = tenant(), tenant()
    rfq = market.post(buyer)
    quote, withdrawn = market.quote(rfq, seller), market.quote(rfq)
    market.rfqs.withdraw_quote(withdrawn.seller_id, withdrawn.id)
    for someone in (seller, tenant()):
        with pytest.raises(NotFound):
            market.rfqs.cancel(someone, rfq.id)
    assert market.rfqs.cancel(buyer, rfq.id).status is RfqStatus.CANCELLED
    assert market.statuses(rfq) == ("cancelled", {quote.id: "rejected", withdrawn.id: "withdrawn"})
    with pytest.raises(FailedPrecondition, match="cancelled"):
        market.rfqs.cancel(buyer, rfq.id)
    with pytest.raises(FailedPrecondition, match="cancelled"):
        market.take(buyer, quote.id)
    expiring = market.post(buyer, deadline=market.clock() + DAY)
    market.clock.advance(DAY)
    with pytest.raises(FailedPrecondition, match="expired"):
        market.rfqs.cancel(buyer, expiring.id)


def test_taking_a_quote_awards_the_rfq_and_rejects_the_other_open_quotes(market: Market) -> None:
    buyer, seller = tenant(), tenant()
    rfq = market.post(buyer, title="Gear blanks", quantity=1_200, unit="kg", currency="USD")
    chosen, other, withdrawn = market.quote(rfq, seller, price=9_900), market.quote(rfq), market.quote(rfq)
    market.rfqs.withdraw_quote(withdrawn.seller_id, withdrawn.id)
    accepted = market.take(buyer, chosen.id)
    assert accepted == AcceptedQuote(
        chosen.id, rfq.id, buyer, seller, "Gear blanks", 1_200, "kg", "USD", 9_900
    )
    assert market.statuses(rfq) == (
        "awarded",
        {chosen.id: "accepted", other.id: "rejected", withdrawn.id: "withdrawn"},
    )
    for again in (chosen, other):
        with pytest.raises(FailedPrecondition, match="awarded"):
            market.take(buyer, again.id)


def test_an_expired_quote_or_rfq_cannot_be_taken(market: Market) -> None:
    buyer = tenant()
    rfq = market.post(buyer, deadline=market.clock() + 3 * DAY)
    lapsing = market.quote(rfq, valid_until=market.clock() + DAY)
    lasting = market.quote(rfq, valid_until=market.clock() + 5 * DAY)
    market.clock.advance(DAY)  # exactly at valid_until: no longer valid
    before = market.rows()
    with pytest.raises(FailedPrecondition, match="the quote has expired"):
        market.take(buyer, lapsing.id)
    market.clock.advance(2 * DAY)
    with pytest.raises(FailedPrecondition, match="the request has expired"):
        market.take(buyer, lasting.id)
    assert market.rows() == before


def test_only_the_buyer_can_take_a_quote_of_its_rfq(market: Market) -> None:
    buyer, seller = tenant(), tenant()
    rfq = market.post(buyer)
    quote = market.quote(rfq, seller)
    before = market.rows()
    for someone, quote_id in ((tenant(), quote.id), (seller, quote.id), (buyer, str(uuid.uuid4()))):
        with pytest.raises(NotFound, match="quote not found"):
            market.take(someone, quote_id)
    assert market.rows() == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "pump\x00housing"}, "title"),
        ({"title": None}, "title"),
        ({"specification": "x" * 10_001}, "specification"),
        ({"specification": "drawing\x00 4711"}, "specification"),
        ({"category": "alchemy"}, "category"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": -5}, "quantity"),
        ({"quantity": 10**12 + 1}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"quantity": 2.5}, "quantity"),
        ({"quantity": 500.0}, "quantity"),
        ({"quantity": "500"}, "quantity"),
        ({"unit": "tonne"}, "unit"),
        ({"currency": "GBP"}, "currency"),
        ({"currency": "cny"}, "currency"),
        ({"deadline": datetime.now() + DAY}, "deadline"),  # naive
        ({"deadline": "2030-01-01T00:00:00"}, "deadline"),  # naive
        ({"deadline": "next tuesday"}, "deadline"),
        ({"deadline": "9999-12-31T23:59:59-14:00"}, "deadline"),
        ({"deadline": 1_900_000_000}, "deadline"),
        ({"status": "awarded"}, "status"),
        ({"buyer_id": str(uuid.uuid4())}, "buyer_id"),
    ],
)
def test_a_hostile_rfq_is_refused_naming_the_field_and_writes_nothing(
    market: Market, changes: dict[str, Any], field: str
) -> None:
    before = market.rows()
    with pytest.raises(InvalidArgument) as refused:
        market.post(**changes)
    assert field in {v.field for v in refused.value.violations}
    assert market.rows() == before


@pytest.mark.parametrize("ahead", [-DAY, 0 * DAY, 365 * DAY + timedelta(seconds=1)])
def test_a_deadline_is_within_the_coming_year(market: Market, ahead: timedelta) -> None:
    before = market.rows()
    with pytest.raises(InvalidArgument) as refused:
        market.post(deadline=market.clock() + ahead)
    assert [v.field for v in refused.value.violations] == ["deadline"]
    assert market.rows() == before
    assert market.post(deadline=market.clock() + 365 * DAY).status is RfqStatus.OPEN


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"price": 0}, "price"),
        ({"price": -42_000}, "price"),
        ({"price": MAX_AMOUNT + 1}, "price"),
        ({"price": 420.5}, "price"),
        ({"price": True}, "price"),
        ({"price": "42000"}, "price"),
        ({"price": None}, "price"),
        ({"currency": "USD"}, "currency"),
        ({"currency": "XXX"}, "currency"),
        ({"lead_time_days": -1}, "lead_time_days"),
        ({"lead_time_days": 366}, "lead_time_days"),
        ({"lead_time_days": False}, "lead_time_days"),
        ({"valid_until": datetime.now() + DAY}, "valid_until"),  # naive
        ({"valid_until": datetime.now(UTC) - DAY}, "valid_until"),
        ({"valid_until": datetime.now(UTC) + 91 * DAY}, "valid_until"),
        ({"valid_until": "\x00"}, "valid_until"),
        ({"note": "n" * 2_001}, "note"),
        ({"note": "ok\x00"}, "note"),
        ({"status": "accepted"}, "status"),
    ],
)
def test_a_hostile_quote_is_refused_naming_the_field_and_writes_nothing(
    market: Market, changes: dict[str, Any], field: str
) -> None:
    rfq = market.post()
    before = market.rows()
    with pytest.raises(InvalidArgument) as refused:
        market.quote(rfq, **changes)
    assert field in {v.field for v in refused.value.violations}
    assert market.rows() == before


@pytest.mark.parametrize("bad", ["", "not-a-uuid", "x" * 100_000, "\x00", f"{uuid.uuid4()}\x00"])
def test_bad_ids_are_refused_naming_the_field(market: Market, bad: str) -> None:
    rfq = market.post()
    quote = market.quote(rfq)
    good = tenant()
    calls = [
        (lambda: market.rfqs.post(bad, {}), "buyer_id"),
        (lambda: market.rfqs.get(bad, rfq.id), "tenant_id"),
        (lambda: market.rfqs.get(good, bad), "rfq_id"),
        (lambda: market.rfqs.list_open(bad), "tenant_id"),
        (lambda: market.rfqs.list_own(bad), "buyer_id"),
        (lambda: market.rfqs.cancel(rfq.buyer_id, bad), "rfq_id"),
        (lambda: market.rfqs.submit_quote(bad, rfq.id, {}), "seller_id"),
        (lambda: market.rfqs.submit_quote(good, bad, {}), "rfq_id"),
        (lambda: market.rfqs.withdraw_quote(quote.seller_id, bad), "quote_id"),
    ]
    before = market.rows()
    for call, field in calls:
        with pytest.raises(InvalidArgument) as refused:
            call()
        assert [v.field for v in refused.value.violations] == [field]
    assert market.rows() == before


def test_pages_of_open_and_own_rfqs_have_no_gaps_or_duplicates(market: Market) -> None:
    buyer, seller = tenant(), tenant()
    deadlines = [market.clock() + (1 + n % 3) * DAY for n in range(11)]  # ties, broken by id
    posted = [
        market.post(buyer, deadline=deadline, category="casting" if n % 2 else "parts")
        for n, deadline in enumerate(deadlines)
    ]
    market.post(seller)  # the seller's own: not in its market
    market.rfqs.cancel(buyer, posted[0].id)
    expected = sorted(posted[1:], key=lambda rfq: (rfq.deadline, rfq.id))
    assert all_pages(lambda size, cursor: market.rfqs.list_open(seller, None, size, cursor), 3) == expected
    castings = all_pages(lambda size, cursor: market.rfqs.list_open(seller, "casting", size, cursor), 2)
    assert castings == [rfq for rfq in expected if rfq.category == "casting"]
    own = all_pages(lambda size, cursor: market.rfqs.list_own(buyer, size, cursor), 4)
    assert [rfq.id for rfq in own] == sorted((rfq.id for rfq in posted), reverse=True)  # one creation time


def test_a_cursor_continues_only_its_own_list(market: Market) -> None:
    buyer, seller = tenant(), tenant()
    for _ in range(3):
        market.post(buyer, category="casting")
    _, cursor = market.rfqs.list_open(seller, "casting", 1)
    forged = [
        pagination.encode_cursor(position, {"open_for": seller, "category": "casting"})
        for position in (["tomorrow", str(uuid.uuid4())], [1, "x"], ["2030-01-01T00:00:00", "x"], [])
    ]
    calls = [
        lambda: market.rfqs.list_open(seller, None, 1, cursor),
        lambda: market.rfqs.list_open(tenant(), "casting", 1, cursor),
        lambda: market.rfqs.list_own(buyer, 1, cursor),
        lambda: market.rfqs.list_open(seller, "casting", 1, "garbage!"),
        *(lambda bad=bad: market.rfqs.list_open(seller, "casting", 1, bad) for bad in forged),
    ]
    for call in calls:
        with pytest.raises(InvalidArgument) as refused:
            call()
        assert [v.field for v in refused.value.violations] == ["page.cursor"]
    with pytest.raises(InvalidArgument):
        market.rfqs.list_open(seller, "alchemy")
    with pytest.raises(InvalidArgument):
        market.rfqs.list_own(buyer, 1_001)


@pytest.fixture
def postgres_market(publisher: ConfirmingPublisher, clock: ManualClock) -> Iterator[Market]:
    with postgres_database() as url, marketplace_store(url, publisher) as store:
        yield Market(store, clock)


def race(attempts: list[Any]) -> list[bool]:
    """Runs the attempts at once; True for each that succeeded, False for each refused."""
    start = threading.Barrier(len(attempts))

    def attempt(call: Any) -> bool:
        start.wait()
        try:
            call()
            return True
        except FailedPrecondition:
            return False

    with ThreadPoolExecutor(len(attempts)) as pool:
        return list(pool.map(attempt, attempts))


def test_two_acceptances_of_one_rfq_race_and_exactly_one_wins(postgres_market: Market) -> None:
    market, buyer = postgres_market, tenant()
    for _ in range(10):
        rfq = market.post(buyer)
        first, second = market.quote(rfq), market.quote(rfq)
        outcomes = race([lambda q=quote: market.take(buyer, q.id) for quote in (first, second)])
        assert sorted(outcomes) == [False, True]
        status, statuses = market.statuses(rfq)
        assert status == "awarded" and sorted(statuses.values()) == ["accepted", "rejected"]


def test_a_seller_racing_itself_has_one_open_quote(postgres_market: Market) -> None:
    market, seller = postgres_market, tenant()
    for _ in range(5):
        rfq = market.post()
        outcomes = race([lambda r=rfq: market.quote(r, seller) for _ in range(6)])
        assert outcomes.count(True) == 1
        assert len(market.statuses(rfq)[1]) == 1
