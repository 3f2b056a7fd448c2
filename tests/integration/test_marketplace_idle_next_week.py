"""The search by the idle hours measured of a capacity listing's own free slots next week,
on SQLite and PostgreSQL, against figures worked out by hand: each free slot of the 168
hours from the next whole hour counts the idle seconds measured of its hour of the week
in the site's zone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from services.kit.bus import ConfirmingPublisher
from services.kit.errors import InvalidArgument
from services.kit.store import Store
from services.marketplace.domain.catalogue import ListingStatus
from services.marketplace.domain.listings import Listing
from services.marketplace.queries import listings as queries
from services.marketplace.usecases.capacity import MeasuredCapacities
from services.marketplace.usecases.listings import Listings
from tests.support.marketplace import capacity_measured, marketplace_store

HOUR = timedelta(hours=1)
# A Monday; the next whole hour is 10:00 UTC, and next week ends at 10:00 a week later.
NOW = datetime(2031, 3, 3, 9, 20, tzinfo=UTC)
MONDAY = datetime(2031, 3, 3, tzinfo=UTC)
ZONE = "Asia/Shanghai"  # UTC+8 all year
TUESDAY, WEDNESDAY = 1, 2


def idle_hours(idle: dict[tuple[int, int], float]) -> list[dict[str, float]]:
    """A week of hours busy producing but for the (weekday, hour): idle seconds given."""
    return [
        {
            "weekday": day,
            "hour": hour,
            "producing_seconds": 3600.0 - idle.get((day, hour), 0.0),
            "idle_seconds": idle.get((day, hour), 0.0),
            "down_seconds": 0.0,
        }
        for day in range(7)
        for hour in range(24)
    ]


# Idle at 02:00 local on Tuesdays and Wednesdays, half of 20:00 on Tuesdays; busy otherwise.
MEASURED = idle_hours({(TUESDAY, 2): 3600.0, (WEDNESDAY, 2): 3600.0, (TUESDAY, 20): 1800.0})


@pytest.fixture
def store(database_url: str, publisher: ConfirmingPublisher) -> Iterator[Store]:
    with marketplace_store(database_url, publisher) as market_store:
        yield market_store


@pytest.fixture
def books(store: Store) -> Listings:
    return Listings(store.unit_of_work, lambda: NOW)


def measure(store: Store, tenant: str, device: str) -> None:
    event = capacity_measured(tenant, device, NOW - HOUR, zone=ZONE, hours=MEASURED)
    assert MeasuredCapacities(store.unit_of_work, lambda: NOW).learn(event)


def capacity(books: Listings, seller: str, device: str, price: int, *starts: datetime) -> Listing:
    """A published capacity listing of `device` with a free slot at each of `starts`."""
    fields = {
        "title": "Five-axis mill",
        "category": "cnc_machining",
        "kind": "capacity",
        "unit": "hour",
        "price": price,
        "ship_from": "CN-32",
        "device_id": device,
    }
    listing = books.create(seller, fields)
    for start in starts:
        books.add_availability(seller, listing.id, start, start + HOUR)
    return books.change_status(seller, listing.id, 1, ListingStatus.PUBLISHED)


def found(books: Listings, bound: float) -> list[str]:
    """The ids the search finds with the bound, a page of one at a time so that every page
    boundary is crossed."""
    buyer, ids, cursor = str(uuid.uuid4()), [], ""
    while True:
        page, cursor = books.search(
            buyer, {"order_by": "price", "min_idle_hours_next_week": bound}, 1, cursor
        )
        ids += [listing.id for listing in page]
        if not cursor:
            return ids


def test_a_listing_counts_the_measured_idle_hours_of_its_own_free_slots_next_week(
    books: Listings, store: Store
) -> None:
    seller, device = str(uuid.uuid4()), str(uuid.uuid4())
    measure(store, seller, device)
    monday_18 = MONDAY + 18 * HOUR  # Tuesday 02:00 in Shanghai: idle, 1 h
    tuesday_12 = MONDAY + 36 * HOUR  # Tuesday 20:00 in Shanghai: half idle, 0.5 h
    tuesday_18 = MONDAY + 42 * HOUR  # Wednesday 02:00 in Shanghai: idle, but booked below
    before = MONDAY + 9 * HOUR  # before the next whole hour: not next week's
    after = MONDAY + 7 * 24 * HOUR + 10 * HOUR  # the first hour after next week
    offered = capacity(books, seller, device, 100, monday_18, tuesday_12, tuesday_18, before, after)
    assert books.get(seller, offered.id).measured.idle_hours_next_week == 2.5

    with store.unit_of_work() as uow:
        assert queries.book_slots(uow.connection, offered.id, [tuesday_18], str(uuid.uuid4()))
        uow.commit()
    assert books.get(seller, offered.id).measured.idle_hours_next_week == 1.5

    # Free hours when the machine is usually busy promise no idle hour.
    busy = capacity(books, seller, device, 200, *(MONDAY + (10 + h) * HOUR for h in range(8)))
    assert busy.measured.idle_hours_next_week == 0.0
    # The same device's other listing counts its own slots alone.
    other_slot = capacity(books, seller, device, 300, tuesday_18 + 24 * HOUR)  # Thursday 02:00: busy
    one_idle = capacity(books, seller, device, 400, tuesday_18)  # free again in this listing
    assert (other_slot.measured.idle_hours_next_week, one_idle.measured.idle_hours_next_week) == (0.0, 1.0)

    assert found(books, 1.5) == [offered.id]
    assert found(books, 1.0) == [offered.id, one_idle.id]
    assert found(books, 1.6) == []


def test_a_listing_without_its_sellers_measurement_fails_the_filter(books: Listings, store: Store) -> None:
    seller, stranger = str(uuid.uuid4()), str(uuid.uuid4())
    measured_for_another, unmeasured = str(uuid.uuid4()), str(uuid.uuid4())
    # The device's figures were measured for another tenant: never the seller's to show.
    measure(store, stranger, measured_for_another)
    slot = MONDAY + 18 * HOUR
    for device in (measured_for_another, unmeasured):
        listing = capacity(books, seller, device, 100, slot)
        assert listing.measured is None
    assert found(books, 0.5) == []


@pytest.mark.parametrize("bound", [-1.0, float("nan"), 168.5, float("inf")])
def test_a_bound_outside_a_week_is_refused(books: Listings, bound: float) -> None:
    with pytest.raises(InvalidArgument) as refused:
        books.search(str(uuid.uuid4()), {"min_idle_hours_next_week": bound})
    assert [v.field for v in refused.value.violations] == ["min_idle_hours_next_week"]
