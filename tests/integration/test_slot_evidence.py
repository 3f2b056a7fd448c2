"""Evidence of booked machine-hours through the real bus and databases (SQLite and
PostgreSQL): the marketplace's order events reach analytics, which reports what the
machine did in each booked slot once it has ended and settled, and the marketplace keeps
that evidence with the order, for its parties and the operator alone; a cancelled order
is reported nothing, and events delivered again change nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select, update

from services.analytics.queries.performance import add_quarters
from services.analytics.storage import QUARTER_INPUTS, booked_slots, capacity_bookings
from services.analytics.usecases.plant_settings import PlantSettings
from services.analytics.usecases.slot_evidence import (
    REMEMBER_REPORTED,
    Bookings,
    forget_reported_slots,
    report_ended_slots,
)
from services.kit.bus import ConfirmingPublisher
from services.kit.errors import NotFound
from services.kit.events import Event, parse_event
from services.kit.store import Store
from services.marketplace.storage import order_slot_evidence
from services.marketplace.usecases.slot_evidence import SlotEvidences
from tests.integration.conftest import CapturedEvents
from tests.integration.test_machine_performance import CHANNELS, MODEL
from tests.support.analytics import ProfileRegistry, analytics_store, teach_device
from tests.support.backends import postgres_database
from tests.support.marketplace import NOW, Market, act, marketplace_store

HOUR = timedelta(hours=1)
QUARTER = timedelta(minutes=15)
MARGIN = timedelta(minutes=15)


@pytest.fixture(params=["sqlite", "postgresql"])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Empty databases of the marketplace and of analytics, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'marketplace.db'}", f"sqlite:///{tmp_path / 'analytics.db'}"
    else:
        with postgres_database() as marketplace, postgres_database() as analytics:
            yield marketplace, analytics


@dataclass
class Platform:
    """The marketplace and analytics with their events on the bus: `deliver` hands each
    consumer what was published, as the workers' queues would."""

    market: Market
    analytics: Store
    captured: CapturedEvents
    registry: ProfileRegistry

    def deliver(self) -> list[Event]:
        events = [parse_event(orjson.loads(body)) for _, body in self.captured.drain()]
        for event in events:
            self.learn(event)
        return events

    def learn(self, event: Event) -> bool:
        if event.type.startswith("order."):
            return Bookings(self.analytics.unit_of_work).learn(event)
        if event.type == "capacity.slot_evidence":
            return SlotEvidences(self.market.store.unit_of_work).learn(event)
        return False

    def report(self, minutes_after_now: int) -> int:
        return report_ended_slots(
            self.analytics.unit_of_work, MARGIN, lambda: NOW + timedelta(minutes=minutes_after_now)
        )

    def modelled_device(self, tenant: str) -> str:
        profile = self.registry.profile(tenant, CHANNELS)
        PlantSettings(self.analytics.unit_of_work, self.registry).put_machine_model(tenant, profile, MODEL, 0)
        return teach_device(self.analytics, tenant, profile)

    def quarters(self, tenant: str, device: str, slot: int, *each: dict[str, float]) -> None:
        """What the machine did in the quarters of the slot starting `slot` hours from NOW."""
        rows = [
            {
                "device_id": device,
                "start": NOW + slot * HOUR + index * QUARTER,
                "tenant_id": tenant,
                "site": "",
                **dict.fromkeys(QUARTER_INPUTS, 0),
                **inputs,
            }
            for index, inputs in enumerate(each)
        ]
        with self.analytics.unit_of_work() as uow:
            add_quarters(uow.connection, rows)
            uow.commit()


@pytest.fixture
def platform(
    urls: tuple[str, str], publisher: ConfirmingPublisher, captured: CapturedEvents
) -> Iterator[Platform]:
    with marketplace_store(urls[0], publisher) as market, analytics_store(urls[1], publisher) as analytics:
        yield Platform(Market(market), analytics, captured, ProfileRegistry())


@dataclass(frozen=True)
class Booked:
    seller: str
    buyer: str
    device: str
    order_id: str


def capacity_order(platform: Platform, hours: int, modelled: bool = True) -> Booked:
    """A buyer's order of the first `hours` slots of a seller's capacity listing of a new
    device of the seller's, with a machine model or without."""
    market = platform.market
    seller, buyer = market.funded_tenant(0), market.funded_tenant()
    device = platform.modelled_device(seller) if modelled else str(uuid.uuid4())
    listing = market.listing(seller, "capacity", device_id=device)
    slots = [NOW + h * HOUR for h in range(hours)]
    return Booked(seller, buyer, device, market.orders.place(act(buyer), listing, hours, slots).id)


def shown(platform: Platform, tenant: str | None, order_id: str) -> list[tuple[Any, ...]]:
    """The order's slots' evidence as its reader sees it: start, verdict, seconds
    producing and down, parts made and good, failures."""
    return [
        (
            e["starts_at"],
            e["verdict"],
            e["producing_seconds"],
            e["down_seconds"],
            e["parts"],
            e["good_parts"],
            e["failures"],
        )
        for e in platform.market.orders.get(tenant, order_id).slot_evidence
    ]


def test_each_booked_slot_is_reported_once_after_it_settles_and_shown_on_the_order(
    platform: Platform,
) -> None:
    booked = capacity_order(platform, 3)
    [placed] = platform.deliver()
    assert (placed.data["device_id"], placed.data["slots"]) == (
        booked.device,
        [NOW, NOW + HOUR, NOW + 2 * HOUR],
    )
    # The first hour it produced, the second it failed and stood, the third it stood idle.
    produced = {"apt": 900.0, "pq": 10.0, "sq": 1.0}
    platform.quarters(booked.seller, booked.device, 0, produced, produced, {"adet": 900.0}, {"adet": 900.0})
    faulted = {"adot": 900.0}
    platform.quarters(booked.seller, booked.device, 1, {"adot": 900.0, "failures": 1}, faulted, faulted, {})
    platform.quarters(booked.seller, booked.device, 2, *[{"idle_outside_plan": 900.0}] * 4)

    # Two hours and ten minutes after NOW, only the first slot has ended a margin ago.
    assert platform.report(130) == 1
    [first] = platform.deliver()
    assert (first.type, first.tenant_id, first.data["order_id"]) == (
        "capacity.slot_evidence",
        booked.seller,
        booked.order_id,
    )
    assert platform.report(130) == 0 and platform.deliver() == []
    assert platform.report(195) == 2
    [rest] = platform.deliver()
    assert [slot["starts_at"] for slot in rest.data["slots"]] == [NOW + HOUR, NOW + 2 * HOUR]

    expected = [
        (NOW, "ran", 1800.0, 0.0, 20.0, 18.0, 0),
        (NOW + HOUR, "down", 0.0, 2700.0, 0.0, 0.0, 1),
        (NOW + 2 * HOUR, "idle", 0.0, 0.0, 0.0, 0.0, 0),
    ]
    for reader in (booked.buyer, booked.seller, None):  # None: the operator
        assert shown(platform, reader, booked.order_id) == expected

    # Delivered again, even under new ids, the events change nothing.
    for event in (placed, first, rest):
        assert not platform.learn(event)
        assert platform.learn(replace(event, id=str(uuid.uuid4())))
    assert platform.report(300) == 0
    assert shown(platform, None, booked.order_id) == expected

    with pytest.raises(NotFound):
        platform.market.orders.get(platform.market.funded_tenant(0), booked.order_id)


def test_a_cancelled_order_is_reported_nothing_and_an_unmodelled_device_not_measured(
    platform: Platform,
) -> None:
    cancelled = capacity_order(platform, 2)
    platform.market.orders.cancel(act(cancelled.buyer), cancelled.order_id)
    unmodelled = capacity_order(platform, 1, modelled=False)
    assert [event.type for event in platform.deliver()] == ["order.placed", "order.cancelled", "order.placed"]

    assert platform.report(300) == 1
    [evidence] = platform.deliver()
    assert evidence.data["order_id"] == unmodelled.order_id
    assert shown(platform, None, unmodelled.order_id) == [(NOW, "not_measured", 0.0, 0.0, 0.0, 0.0, 0)]
    assert shown(platform, None, cancelled.order_id) == []


def test_evidence_of_an_order_its_tenant_does_not_sell_is_not_kept(platform: Platform) -> None:
    booked = capacity_order(platform, 1)
    platform.deliver()
    assert platform.report(100) == 1
    [evidence] = platform.deliver()
    # Another tenant's device claiming to witness the order's hours is not listened to.
    forged = replace(evidence, id=str(uuid.uuid4()), tenant_id=str(uuid.uuid4()), data={**evidence.data})
    with platform.market.store.engine.begin() as connection:
        connection.execute(order_slot_evidence.delete())
    assert platform.learn(forged)
    assert shown(platform, booked.buyer, booked.order_id) == []


def test_slots_reported_a_month_ago_are_forgotten_and_a_late_event_changes_nothing_shown(
    platform: Platform,
) -> None:
    old, recent = capacity_order(platform, 1), capacity_order(platform, 1)
    [placed_old, _] = platform.deliver()
    assert platform.report(300) == 2
    platform.deliver()
    with platform.analytics.unit_of_work() as uow:
        uow.connection.execute(
            update(booked_slots)
            .where(booked_slots.c.order_id == old.order_id)
            .values(reported_at=NOW - REMEMBER_REPORTED - timedelta(minutes=1))
        )
        uow.commit()
    assert forget_reported_slots(platform.analytics.unit_of_work, lambda: NOW) == 1
    with platform.analytics.engine.connect() as connection:
        remaining = connection.execute(select(capacity_bookings.c.order_id)).scalars().all()
    assert remaining == [recent.order_id]

    # The forgotten order's placement delivered again is reported again; the order keeps
    # the evidence it had.
    before = shown(platform, None, old.order_id)
    assert platform.learn(replace(placed_old, id=str(uuid.uuid4())))
    assert platform.report(300) == 1
    platform.deliver()
    assert shown(platform, None, old.order_id) == before
