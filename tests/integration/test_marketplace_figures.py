"""The platform's figures on SQLite and PostgreSQL: companies learnt from the registry's
tenant events, completed orders per currency by UTC day and in total."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from services.kit.bus import ConfirmingPublisher
from services.kit.errors import InvalidArgument
from services.kit.events import new_event
from services.marketplace.usecases.figures import CurrencyFigures, DayFigures, PlatformFigures
from tests.support.marketplace import NOW, Market, act, marketplace_store


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def market(database_url: str, publisher: ConfirmingPublisher, clock: Clock) -> Iterator[Market]:
    with marketplace_store(database_url, publisher) as store:
        yield Market(store, clock)


@pytest.fixture
def figures(market: Market, clock: Clock) -> PlatformFigures:
    return PlatformFigures(market.store.unit_of_work, clock, home_country="CN")


def completed(market: Market, currency: str = "CNY", price: int = 1_000) -> None:
    buyer, seller = market.funded_tenant(currency=currency), market.funded_tenant(0)
    order = market.orders.place(act(buyer), market.listing(seller, price=price, currency=currency), 2)
    market.orders.fund(act(buyer), order.id)
    market.deliver(order.id, buyer, seller)
    market.orders.complete(act(buyer), order.id)


def test_companies_are_counted_once_and_abroad_by_their_latest_country(figures: PlatformFigures) -> None:
    tenants = {str(uuid.uuid4()): country for country in ("CN", "CN", "CN", "DE", "US")}
    events = [
        new_event("tenant.created", t, {"name": "x", "country": c, "size_class": "micro"})
        for t, c in tenants.items()
    ]
    assert all(figures.learn(event) for event in events)
    assert not figures.learn(events[0])  # redelivered
    moved = next(t for t, c in tenants.items() if c == "CN")
    update = {"name": "x", "country": "SG", "size_class": "micro", "status": "active", "version": 2}
    figures.learn(new_event("tenant.updated", moved, update))
    stats = figures.report()
    assert (stats.registered_companies, stats.companies_abroad, stats.home_country) == (5, 3, "CN")


def test_completed_orders_are_summed_per_currency_by_day_and_in_total(
    market: Market, figures: PlatformFigures, clock: Clock
) -> None:
    completed(market, price=1_000)
    completed(market, price=2_500)
    clock.now = NOW + timedelta(days=1)
    completed(market, currency="USD", price=700)
    completed(market, price=10)
    buyer, seller = market.funded_tenant(), market.funded_tenant(0)
    cancelled = market.orders.place(act(buyer), market.listing(seller), 1)
    market.orders.cancel(act(buyer), cancelled.id)

    stats = figures.report("2026-11-24", "2026-11-25")
    assert stats.totals == [CurrencyFigures("CNY", 3, 7_020), CurrencyFigures("USD", 1, 1_400)]
    assert stats.days == [
        DayFigures(NOW.date(), [CurrencyFigures("CNY", 2, 7_000)]),
        DayFigures(
            NOW.date() + timedelta(days=1), [CurrencyFigures("CNY", 1, 20), CurrencyFigures("USD", 1, 1_400)]
        ),
    ]
    later = figures.report("2026-11-25", "2026-11-25")
    assert [d.day for d in later.days] == [NOW.date() + timedelta(days=1)]
    assert later.totals == stats.totals


def test_a_day_is_utc_whatever_the_local_time(market: Market, figures: PlatformFigures, clock: Clock) -> None:
    clock.now = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    completed(market)
    assert [d.day.isoformat() for d in figures.report("2026-11-24", "2026-11-25").days] == ["2026-11-24"]


def test_the_default_period_is_the_last_30_days(figures: PlatformFigures, clock: Clock) -> None:
    clock.now = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    stats = figures.report()
    assert (stats.from_day.isoformat(), stats.to_day.isoformat()) == ("2026-10-26", "2026-11-24")
    assert (stats.registered_companies, stats.totals, stats.days) == (0, [], [])


@pytest.mark.parametrize(
    ("from_day", "to_day", "field"),
    [
        ("2026-13-01", "", "from_day"),
        ("2026-11-2", "", "from_day"),
        ("yesterday", "", "from_day"),
        ("2026-11-24\n", "", "from_day"),
        ("", "20261124", "to_day"),
        ("2026-11-25", "2026-11-24", "to_day"),
        ("2025-11-23", "2026-11-24", "to_day"),
    ],
)
def test_bad_days_are_refused_naming_the_field(
    figures: PlatformFigures, from_day: str, to_day: str, field: str
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        figures.report(from_day, to_day)
    assert [v.field for v in refused.value.violations] == [field]
