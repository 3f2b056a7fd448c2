"""Listings on SQLite and PostgreSQL: each kind's rules, the lifecycle, optimistic
versions, tenants kept apart, the market's search and its pages, hostile input
refused with nothing written, capacity slots; and, on PostgreSQL, buyers racing for
the last items and orders racing for one machine-hour."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Connection, Table, func, select

from services.kit.bus import ConfirmingPublisher
from services.kit.errors import FailedPrecondition, InvalidArgument, NotFound, VersionMismatch
from services.kit.pagination import encode_cursor
from services.kit.store import Store
from services.marketplace.domain.catalogue import ListingStatus
from services.marketplace.domain.ledger import MAX_AMOUNT
from services.marketplace.domain.listings import MAX_SLOTS, Listing
from services.marketplace.queries import listings as queries
from services.marketplace.queries.listings import ListingFilter
from services.marketplace.storage import capacity_slots, listings
from services.marketplace.usecases.listings import Listings
from tests.support.access import ManualClock
from tests.support.backends import postgres_database
from tests.support.marketplace import marketplace_store

S = ListingStatus
HOUR = timedelta(hours=1)
# Far enough ahead that no slot of these tests is ever in the past.
MONDAY = datetime(2031, 3, 3, tzinfo=UTC)


def device_of(tenant: str) -> str:
    """The one registered device each tenant of these tests owns."""
    return str(uuid.uuid5(uuid.NAMESPACE_OID, tenant))


def new_tenant() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def market(database_url: str, publisher: ConfirmingPublisher) -> Iterator[Store]:
    with marketplace_store(database_url, publisher) as store:
        yield store


@pytest.fixture
def postgres_market(publisher: ConfirmingPublisher) -> Iterator[Store]:
    with postgres_database() as url, marketplace_store(url, publisher) as store:
        yield store


@pytest.fixture
def books(market: Store, clock: ManualClock) -> Listings:
    return Listings(market.unit_of_work, clock, lambda tenant, device: device == device_of(tenant))


def spec(kind: str, seller: str, **overrides: Any) -> dict[str, Any]:
    """A valid listing of `kind`, with `overrides`."""
    by_kind: dict[str, dict[str, Any]] = {
        "capability": {"unit": "piece"},
        "capacity": {"unit": "hour", "device_id": device_of(seller)},
        "product": {"unit": "piece", "stock": 10},
    }
    base = {
        "title": f"A {kind}",
        "category": "cnc_machining",
        "kind": kind,
        "price": 10_000,
        "ship_from": "CN-32",
    }
    return {**base, **by_kind[kind], **overrides}


# How a new draft reaches each status.
PATHS = {S.DRAFT: [], S.PUBLISHED: [S.PUBLISHED], S.PAUSED: [S.PUBLISHED, S.PAUSED], S.CLOSED: [S.CLOSED]}


def listing_at(
    books: Listings, seller: str, status: ListingStatus, kind: str = "capability", **fields: Any
) -> Listing:
    listing = books.create(seller, spec(kind, seller, **fields))
    for step in PATHS[status]:
        listing = books.change_status(seller, listing.id, listing.version, step)
    return listing


def count(market: Store, table: Table) -> int:
    with market.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def outbox_types(market: Store) -> list[str]:
    outbox = market.metadata.tables["outbox"]
    with market.engine.connect() as connection:
        return list(connection.execute(select(outbox.c.type).order_by(outbox.c.created_at)).scalars())


def in_transaction(market: Store, work: Callable[[Connection], bool]) -> bool:
    """`work` in one transaction, committed only when it succeeded, as orders do."""
    with market.unit_of_work() as uow:
        done = work(uow.connection)
        if done:
            uow.commit()
    return done


# -- kinds --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["capability", "capacity", "product"])
def test_each_kind_is_drafted_with_what_it_sells(books: Listings, clock: ManualClock, kind: str) -> None:
    seller = new_tenant()
    listing = books.create(seller, spec(kind, seller))
    assert (listing.status, listing.version, listing.created_at) == (S.DRAFT, 1, clock.now)
    assert (listing.currency, listing.min_order_quantity, listing.lead_time_days) == ("CNY", 1, 0)
    assert listing.device_id == (device_of(seller) if kind == "capacity" else None)
    assert listing.stock == (10 if kind == "product" else None)
    assert books.get(seller, listing.id) == listing


def test_a_capability_is_sold_by_any_unit_and_a_product_by_the_piece_or_kg(books: Listings) -> None:
    seller = new_tenant()
    for unit in ("piece", "hour", "kg"):
        assert books.create(seller, spec("capability", seller, unit=unit)).unit == unit
    assert books.create(seller, spec("product", seller, unit="kg", stock=0)).stock == 0


@pytest.mark.parametrize(
    ("kind", "overrides", "fields"),
    [
        ("capacity", {"unit": "piece"}, {"unit"}),
        ("capacity", {"device_id": None}, {"device_id"}),
        ("capacity", {"stock": 5}, {"stock"}),
        ("capacity", {"unit": "kg", "stock": 5, "device_id": None}, {"unit", "stock", "device_id"}),
        ("product", {"stock": None}, {"stock"}),
        ("product", {"unit": "hour"}, {"unit"}),
        ("product", {"device_id": str(uuid.uuid4())}, {"device_id"}),
        ("capability", {"device_id": str(uuid.uuid4())}, {"device_id"}),
        ("capability", {"stock": 3}, {"stock"}),
    ],
)
def test_kind_rules_name_every_field_a_kind_forbids_or_lacks(
    books: Listings, market: Store, kind: str, overrides: dict[str, Any], fields: set[str]
) -> None:
    seller = new_tenant()
    with pytest.raises(InvalidArgument) as refused:
        books.create(seller, spec(kind, seller, **overrides))
    assert {v.field for v in refused.value.violations} == fields
    assert count(market, listings) == 0


def test_capacity_sells_only_the_hours_of_the_sellers_own_device(books: Listings, market: Store) -> None:
    seller, other = new_tenant(), new_tenant()
    with pytest.raises(InvalidArgument) as refused:
        books.create(seller, spec("capacity", seller, device_id=device_of(other)))
    assert [v.field for v in refused.value.violations] == ["device_id"]
    assert count(market, listings) == 0


# -- lifecycle and versions ------------------------------------------------------------

LEGAL = {
    (S.DRAFT, S.PUBLISHED),
    (S.DRAFT, S.CLOSED),
    (S.PUBLISHED, S.PAUSED),
    (S.PUBLISHED, S.CLOSED),
    (S.PAUSED, S.PUBLISHED),
    (S.PAUSED, S.CLOSED),
}


@pytest.mark.parametrize("target", list(S))
@pytest.mark.parametrize("origin", list(S))
def test_status_moves_only_as_the_lifecycle_allows(
    books: Listings, origin: ListingStatus, target: ListingStatus
) -> None:
    seller = new_tenant()
    listing = listing_at(books, seller, origin)
    if (origin, target) in LEGAL:
        moved = books.change_status(seller, listing.id, listing.version, target.value)
        assert (moved.status, moved.version) == (target, listing.version + 1)
    else:
        with pytest.raises(FailedPrecondition):
            books.change_status(seller, listing.id, listing.version, target)
    assert books.get(seller, listing.id).status == (target if (origin, target) in LEGAL else origin)


def test_each_publication_is_announced(books: Listings, market: Store) -> None:
    seller = new_tenant()
    listing = listing_at(books, seller, S.PAUSED)
    books.change_status(seller, listing.id, listing.version, S.PUBLISHED)
    assert outbox_types(market) == ["listing.published", "listing.published"]


def test_a_stale_version_is_refused_and_changes_nothing(books: Listings) -> None:
    seller = new_tenant()
    listing = books.create(seller, spec("product", seller))
    current = books.update(seller, listing.id, 1, {"price": 12_000})
    with pytest.raises(VersionMismatch):
        books.update(seller, listing.id, 1, {"price": 99})
    with pytest.raises(VersionMismatch):
        books.change_status(seller, listing.id, 1, S.PUBLISHED)
    with pytest.raises(VersionMismatch):
        books.update(seller, listing.id, 3, {"price": 99})
    assert books.get(seller, listing.id) == current


def test_a_seller_changes_what_may_change(books: Listings, clock: ManualClock) -> None:
    seller = new_tenant()
    listing = books.create(seller, spec("product", seller))
    clock.advance(HOUR)
    changes = {
        "title": "Brass fittings",
        "description": "M8 thread.\n\tNickel plated.",
        "price": 1,
        "lead_time_days": 365,
        "min_order_quantity": 1_000_000_000,
        "stock": 0,
    }
    changed = books.update(seller, listing.id, 1, changes)
    assert {name: getattr(changed, name) for name in changes} == changes
    assert (changed.version, changed.updated_at, changed.created_at) == (2, clock.now, listing.created_at)
    assert books.get(seller, listing.id) == changed


@pytest.mark.parametrize(
    ("kind", "changes", "field"),
    [
        ("product", {}, "changes"),
        ("product", {"kind": "capability"}, "changes"),
        ("product", {"seller_id": str(uuid.uuid4())}, "changes"),
        ("product", {"status": "published"}, "changes"),
        ("product", {"price": 5, "version": 7}, "changes"),
        ("product", {"stock": None}, "stock"),
        ("product", {"stock": -1}, "stock"),
        ("capability", {"stock": 4}, "stock"),
        ("capacity", {"stock": 4}, "stock"),
        ("product", {"price": 0}, "price"),
        ("product", {"title": None}, "title"),
    ],
)
def test_an_update_beyond_what_may_change_is_refused(
    books: Listings, kind: str, changes: dict[str, Any], field: str
) -> None:
    seller = new_tenant()
    listing = books.create(seller, spec(kind, seller))
    with pytest.raises(InvalidArgument) as refused:
        books.update(seller, listing.id, 1, changes)
    assert field in {v.field for v in refused.value.violations}
    assert books.get(seller, listing.id) == listing


def test_a_closed_listing_no_longer_changes(books: Listings) -> None:
    seller = new_tenant()
    listing = listing_at(books, seller, S.CLOSED, "capacity")
    with pytest.raises(FailedPrecondition):
        books.update(seller, listing.id, listing.version, {"title": "Reopened"})
    with pytest.raises(FailedPrecondition):
        books.add_availability(seller, listing.id, MONDAY, MONDAY + HOUR)
    assert books.get(seller, listing.id) == listing


# -- tenants --------------------------------------------------------------------------


def test_another_tenants_unpublished_listing_does_not_exist_for_it(books: Listings) -> None:
    seller, other = new_tenant(), new_tenant()
    for status in (S.DRAFT, S.PAUSED, S.CLOSED):
        listing = listing_at(books, seller, status, "capacity")
        assert books.get(seller, listing.id) == listing
        with pytest.raises(NotFound):
            books.get(other, listing.id)
        with pytest.raises(NotFound):
            books.free_slots(other, listing.id, MONDAY, MONDAY + HOUR)
    draft = listing_at(books, seller, S.DRAFT, "capacity")
    for change in (
        lambda: books.update(other, draft.id, 1, {"title": "Mine now"}),
        lambda: books.change_status(other, draft.id, 1, S.PUBLISHED),
        lambda: books.add_availability(other, draft.id, MONDAY, MONDAY + HOUR),
    ):
        with pytest.raises(NotFound):
            change()
    assert books.get(seller, draft.id) == draft
    assert books.free_slots(seller, draft.id, MONDAY, MONDAY + 24 * HOUR) == []


def test_a_published_listing_is_seen_by_all_and_changed_by_its_seller_alone(books: Listings) -> None:
    seller, other = new_tenant(), new_tenant()
    listing = listing_at(books, seller, S.PUBLISHED, "capacity")
    assert books.get(other, listing.id) == listing
    with pytest.raises(NotFound):
        books.update(other, listing.id, listing.version, {"price": 1})
    with pytest.raises(NotFound):
        books.change_status(other, listing.id, listing.version, S.CLOSED)
    with pytest.raises(NotFound):
        books.add_availability(other, listing.id, MONDAY, MONDAY + HOUR)
    with pytest.raises(NotFound):
        books.get(other, str(uuid.uuid4()))
    assert books.get(seller, listing.id) == listing


# -- search ---------------------------------------------------------------------------


@pytest.fixture
def catalogue(books: Listings, clock: ManualClock) -> dict[str, Listing]:
    """A small market by title, newest last, with unpublished listings no search may find."""
    seller, rival = new_tenant(), new_tenant()
    offers = [
        (seller, "product", {"title": "Brass fittings 100% tested", "category": "parts", "price": 500}),
        (rival, "capability", {"title": "Aluminium CNC milling", "price": 20_000, "ship_from": "CN-44"}),
        (seller, "capacity", {"title": "5-axis MILLING hours", "price": 8_000, "ship_from": "CN"}),
        (
            rival,
            "capability",
            {
                "title": "Steel castings",
                "category": "casting",
                "price": 50_000,
                "currency": "EUR",
                "ship_from": "DE-BY",
            },
        ),
        (rival, "product", {"title": "Spare_part kit", "category": "parts", "price": 1_500}),
    ]
    market = {}
    for tenant, kind, fields in offers:
        clock.advance(timedelta(minutes=1))
        market[fields["title"]] = listing_at(books, tenant, S.PUBLISHED, kind, **fields)
    for status in (S.DRAFT, S.PAUSED, S.CLOSED):
        listing_at(books, seller, status, "capability", title=f"Milling, {status}", price=9_000)
    return market


def test_search_finds_published_listings_by_every_filter(
    books: Listings, catalogue: dict[str, Listing]
) -> None:
    everything = set(catalogue)
    chinese = everything - {"Steel castings"}
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({}, everything),
        ({"category": "parts"}, {"Brass fittings 100% tested", "Spare_part kit"}),
        ({"kind": "capacity"}, {"5-axis MILLING hours"}),
        ({"kind": "capability", "category": "cnc_machining"}, {"Aluminium CNC milling"}),
        ({"ship_from": "CN"}, chinese),
        ({"ship_from": "CN-32"}, {"Brass fittings 100% tested", "Spare_part kit"}),
        ({"ship_from": "CN-44"}, {"Aluminium CNC milling"}),
        ({"ship_from": "CN-4"}, set()),
        ({"ship_from": "DE"}, {"Steel castings"}),
        ({"ship_from": "DE-BY"}, {"Steel castings"}),
        ({"ship_from": "US"}, set()),
        ({"currency": "CNY"}, chinese),
        ({"currency": "EUR"}, {"Steel castings"}),
        ({"currency": "USD"}, set()),
        ({"min_price": 1_500}, everything - {"Brass fittings 100% tested"}),
        ({"max_price": 1_500}, {"Brass fittings 100% tested", "Spare_part kit"}),
        ({"min_price": 1_000, "max_price": 10_000}, {"Spare_part kit", "5-axis MILLING hours"}),
        ({"text": "milling"}, {"Aluminium CNC milling", "5-axis MILLING hours"}),
        ({"text": "MiLL"}, {"Aluminium CNC milling", "5-axis MILLING hours"}),
        ({"text": "100%"}, {"Brass fittings 100% tested"}),
        ({"text": "%"}, {"Brass fittings 100% tested"}),
        ({"text": "_"}, {"Spare_part kit"}),
        ({"text": "e_p"}, {"Spare_part kit"}),
        ({"text": "s%t"}, set()),
        ({"text": "\\"}, set()),
        ({"category": None, "kind": None, "text": ""}, everything),
    ]
    for filters, expected in cases:
        found, cursor = books.search(new_tenant(), filters)
        assert ({listing.title for listing in found}, cursor) == (expected, ""), filters


def test_search_sorts_by_price_either_way_or_newest_first(
    books: Listings, catalogue: dict[str, Listing]
) -> None:
    buyer = new_tenant()
    by_price = sorted(catalogue.values(), key=lambda listing: listing.price)
    newest = sorted(catalogue.values(), key=lambda listing: listing.created_at, reverse=True)
    assert books.search(buyer, {"order_by": "price"})[0] == by_price
    assert books.search(buyer, {"order_by": "-price"})[0] == by_price[::-1]
    assert books.search(buyer, {"order_by": "-created_at"})[0] == newest
    assert books.search(buyer, {})[0] == newest


def walk(books: Listings, tenant: str, filters: dict[str, Any], size: int) -> list[Listing]:
    found, cursor = books.search(tenant, filters, size)
    while cursor:
        page, cursor = books.search(tenant, filters, size, cursor)
        assert page
        found += page
    return found


def test_pages_follow_each_other_without_gaps_or_repeats(books: Listings, clock: ManualClock) -> None:
    buyer, sellers = new_tenant(), [new_tenant() for _ in range(3)]
    made = []
    for index in range(23):
        # Equal prices and equal creation times: the id breaks every tie.
        if index % 3 == 0:
            clock.advance(timedelta(seconds=1))
        made.append(listing_at(books, sellers[index % 3], S.PUBLISHED, price=100 * (1 + index % 4)))
    by_price = sorted(made, key=lambda listing: (listing.price, listing.id))
    newest = sorted(made, key=lambda listing: (listing.created_at, listing.id), reverse=True)
    expected = {"price": by_price, "-price": by_price[::-1], "-created_at": newest}
    for order, listed in expected.items():
        for size in (1, 4, 23, 24):
            assert walk(books, buyer, {"order_by": order}, size) == listed, (order, size)
    cheap = walk(books, buyer, {"max_price": 200, "order_by": "-price"}, 5)
    assert cheap == [listing for listing in by_price[::-1] if listing.price <= 200]


def test_a_page_already_served_does_not_move_when_listings_are_added(books: Listings) -> None:
    buyer, seller = new_tenant(), new_tenant()
    made = [listing_at(books, seller, S.PUBLISHED, price=price) for price in (200, 300, 400, 500)]
    first, cursor = books.search(buyer, {"order_by": "price"}, 2)
    cheapest = listing_at(books, seller, S.PUBLISHED, price=100)
    dearest = listing_at(books, seller, S.PUBLISHED, price=600)
    rest, cursor = books.search(buyer, {"order_by": "price"}, 10, cursor)
    assert (first, rest, cursor) == (made[:2], [*made[2:], dearest], "")
    assert cheapest not in first + rest


def test_a_cursor_continues_only_its_own_search(books: Listings) -> None:
    buyer, seller = new_tenant(), new_tenant()
    for _ in range(3):
        listing_at(books, seller, S.PUBLISHED, category="parts")
    _, cursor = books.search(buyer, {"category": "parts"}, 1)
    assert cursor
    for filters, tenant in (
        ({"category": "casting"}, buyer),
        ({"category": "parts", "order_by": "price"}, buyer),
        ({"category": "parts"}, new_tenant()),
    ):
        with pytest.raises(InvalidArgument):
            books.search(tenant, filters, 1, cursor)
    with pytest.raises(InvalidArgument):
        books.list_own(seller, None, 1, cursor)


@pytest.mark.parametrize(
    "position",
    [
        ["yesterday", "x"],
        ["2031-03-03T00:00:00", "x"],
        ["2031-03-03T00:00:00+00:00"],
        [True, "x"],
        [5.5, "x"],
        ["5", "x"],
        [5, 6],
        [None, None],
    ],
)
def test_a_forged_cursor_is_refused(books: Listings, position: list[Any]) -> None:
    # A cursor's fingerprint is no secret: anyone can compute it for their own list.
    seller = new_tenant()
    with pytest.raises(InvalidArgument):
        books.list_own(seller, None, 1, encode_cursor(position, {"own": seller, "status": ""}))
    by_price = {"search": repr(ListingFilter()), "order": "price", "tenant": seller}
    with pytest.raises(InvalidArgument):
        books.search(seller, {"order_by": "price"}, 1, encode_cursor(position, by_price))


def test_a_seller_lists_its_own_listings_of_every_status_newest_first(
    books: Listings, clock: ManualClock
) -> None:
    seller, other = new_tenant(), new_tenant()
    made = []
    for status in (S.DRAFT, S.PUBLISHED, S.PAUSED, S.CLOSED, S.PUBLISHED, S.DRAFT, S.PUBLISHED):
        clock.advance(timedelta(seconds=1))
        made.append(listing_at(books, seller, status))
    listing_at(books, other, S.PUBLISHED)
    first, cursor = books.list_own(seller, None, 4)
    rest, last = books.list_own(seller, None, 4, cursor)
    assert (first + rest, last) == (made[::-1], "")
    published, _ = books.list_own(seller, "published")
    assert published == [listing for listing in made[::-1] if listing.status is S.PUBLISHED]
    assert books.list_own(new_tenant()) == ([], "")
    with pytest.raises(InvalidArgument):
        books.list_own(seller, "deleted")


# -- hostile input ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "overrides", "field"),
    [
        ("capability", {"title": "x" * 201}, "title"),
        ("capability", {"title": "x" * 1_000_000}, "title"),
        ("capability", {"title": ""}, "title"),
        ("capability", {"title": "   "}, "title"),
        ("capability", {"title": "nul\x00byte"}, "title"),
        ("capability", {"title": "line\nbreak"}, "title"),
        ("capability", {"title": 42}, "title"),
        ("capability", {"description": "x" * 5001}, "description"),
        ("capability", {"description": "nul\x00byte"}, "description"),
        ("capability", {"price": 0}, "price"),
        ("capability", {"price": -1}, "price"),
        ("capability", {"price": 1.5}, "price"),
        ("capability", {"price": 100.0}, "price"),
        ("capability", {"price": True}, "price"),
        ("capability", {"price": "100"}, "price"),
        ("capability", {"price": None}, "price"),
        ("capability", {"price": MAX_AMOUNT + 1}, "price"),
        ("capability", {"price": 10**100}, "price"),
        ("capability", {"currency": "GBP"}, "currency"),
        ("capability", {"currency": "cny"}, "currency"),
        ("capability", {"category": "weapons"}, "category"),
        ("capability", {"category": ""}, "category"),
        ("capability", {"kind": "service"}, "kind"),
        ("capability", {"kind": None}, "kind"),
        ("capability", {"unit": "litre"}, "unit"),
        ("capability", {"min_order_quantity": 0}, "min_order_quantity"),
        ("capability", {"min_order_quantity": 10**9 + 1}, "min_order_quantity"),
        ("capability", {"lead_time_days": -1}, "lead_time_days"),
        ("capability", {"lead_time_days": 366}, "lead_time_days"),
        ("capability", {"ship_from": "China"}, "ship_from"),
        ("capability", {"ship_from": "cn"}, "ship_from"),
        ("capability", {"ship_from": "CN\n"}, "ship_from"),
        ("capability", {"ship_from": "CN-"}, "ship_from"),
        ("capability", {"ship_from": "CN-3200"}, "ship_from"),
        ("capability", {"ship_from": "CN%"}, "ship_from"),
        ("capacity", {"device_id": "not-a-uuid"}, "device_id"),
        ("capacity", {"device_id": "'; DROP TABLE listings; --"}, "device_id"),
        ("product", {"stock": -1}, "stock"),
        ("product", {"stock": 1.0}, "stock"),
        ("product", {"stock": MAX_AMOUNT + 1}, "stock"),
        ("capability", {"status": "published"}, "status"),
        ("capability", {"seller_id": str(uuid.uuid4())}, "seller_id"),
        ("capability", {"version": 9}, "version"),
    ],
)
def test_hostile_listings_are_refused_and_write_nothing(
    books: Listings, market: Store, kind: str, overrides: dict[str, Any], field: str
) -> None:
    seller = new_tenant()
    with pytest.raises(InvalidArgument) as refused:
        books.create(seller, {**spec(kind, seller), **overrides})
    assert field in {v.field for v in refused.value.violations}
    assert count(market, listings) == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda books, seller, listing: books.create("not-a-tenant", spec("capability", seller)),
        lambda books, seller, listing: books.get(seller, "../../etc/passwd"),
        lambda books, seller, listing: books.get("' OR '1'='1", listing.id),
        lambda books, seller, listing: books.update(seller, "x" * 10_000, 1, {"price": 1}),
        lambda books, seller, listing: books.update(seller, listing.id, 0, {"price": 1}),
        lambda books, seller, listing: books.update(seller, listing.id, True, {"price": 1}),
        lambda books, seller, listing: books.update(seller, listing.id, "1", {"price": 1}),
        lambda books, seller, listing: books.change_status(seller, listing.id, 1, "deleted"),
        lambda books, seller, listing: books.change_status(seller, listing.id, 1, None),
        lambda books, seller, listing: books.change_status(seller, listing.id, -1, S.PUBLISHED),
        lambda books, seller, listing: books.add_availability(
            seller, listing.id, MONDAY.replace(tzinfo=None), MONDAY.replace(tzinfo=None) + HOUR
        ),
        lambda books, seller, listing: books.add_availability(seller, listing.id, MONDAY, MONDAY),
        lambda books, seller, listing: books.add_availability(seller, listing.id, MONDAY + HOUR, MONDAY),
        lambda books, seller, listing: books.add_availability(seller, listing.id, "monday", "tuesday"),
        lambda books, seller, listing: books.add_availability(
            seller, listing.id, MONDAY, MONDAY + (MAX_SLOTS + 1) * HOUR
        ),
        lambda books, seller, listing: books.add_availability(
            seller,
            listing.id,
            MONDAY + timedelta(minutes=30),
            MONDAY + MAX_SLOTS * HOUR + timedelta(minutes=30),
        ),
        lambda books, seller, listing: books.free_slots(seller, listing.id, MONDAY, MONDAY + 10_000 * HOUR),
        lambda books, seller, listing: books.search(seller, {"text": "x" * 10_000}),
        lambda books, seller, listing: books.search(seller, {"text": "nul\x00"}),
        lambda books, seller, listing: books.search(seller, {"min_price": 0}),
        lambda books, seller, listing: books.search(seller, {"max_price": 1.5}),
        lambda books, seller, listing: books.search(seller, {"min_price": True}),
        lambda books, seller, listing: books.search(seller, {"min_price": 10, "max_price": 9}),
        lambda books, seller, listing: books.search(seller, {"max_price": MAX_AMOUNT + 1}),
        lambda books, seller, listing: books.search(seller, {"category": "weapons"}),
        lambda books, seller, listing: books.search(seller, {"kind": "service"}),
        lambda books, seller, listing: books.search(seller, {"currency": "BTC"}),
        lambda books, seller, listing: books.search(seller, {"ship_from": "C%"}),
        lambda books, seller, listing: books.search(seller, {"order_by": "price; DROP TABLE listings"}),
        lambda books, seller, listing: books.search(seller, {"order_by": "created_at"}),
        lambda books, seller, listing: books.search(seller, {"status": "draft"}),
        lambda books, seller, listing: books.search(seller, {}, -1),
        lambda books, seller, listing: books.search(seller, {}, 1001),
        lambda books, seller, listing: books.search(seller, {}, 10, "not a cursor"),
        lambda books, seller, listing: books.search("", {}),
        lambda books, seller, listing: books.list_own(seller, None, 0, "%%%"),
    ],
)
def test_hostile_calls_are_refused_and_change_nothing(
    books: Listings, market: Store, call: Callable[[Listings, str, Listing], object]
) -> None:
    seller = new_tenant()
    listing = books.create(seller, spec("capacity", seller))
    with pytest.raises(InvalidArgument):
        call(books, seller, listing)
    assert books.get(seller, listing.id) == listing
    assert (count(market, listings), count(market, capacity_slots)) == (1, 0)


# -- capacity slots -------------------------------------------------------------------


def test_availability_opens_the_whole_utc_hours_a_span_covers_once(books: Listings, market: Store) -> None:
    seller = new_tenant()
    listing = listing_at(books, seller, S.PUBLISHED, "capacity")
    # 18:30 in China is 10:30 UTC: the 10:00 hour is opened, and 12:00 for the quarter after it.
    china = timezone(timedelta(hours=8))
    start, end = datetime(2031, 3, 3, 18, 30, tzinfo=china), MONDAY + timedelta(hours=12, minutes=15)
    assert books.add_availability(seller, listing.id, start, end) == 3
    assert books.add_availability(seller, listing.id, MONDAY + 12 * HOUR, MONDAY + 15 * HOUR) == 2
    open_hours = [MONDAY + hours * HOUR for hours in range(10, 15)]
    slots = books.free_slots(new_tenant(), listing.id, MONDAY, MONDAY + 24 * HOUR)
    assert [(s.starts_at, s.ends_at, s.order_id) for s in slots] == [
        (at, at + HOUR, None) for at in open_hours
    ]
    assert all(slot.starts_at.utcoffset() == timedelta(0) for slot in slots)
    assert [s.starts_at for s in books.free_slots(seller, listing.id, start, MONDAY + 12 * HOUR)] == [
        MONDAY + 10 * HOUR,
        MONDAY + 11 * HOUR,
    ]
    order_id = str(uuid.uuid4())
    assert in_transaction(market, lambda c: queries.book_slots(c, listing.id, [open_hours[0]], order_id))
    # Opening a booked hour again leaves it booked.
    assert books.add_availability(seller, listing.id, MONDAY, MONDAY + 24 * HOUR) == 19
    free = books.free_slots(seller, listing.id, MONDAY, MONDAY + 24 * HOUR)
    assert [s.starts_at for s in free] == [MONDAY + hours * HOUR for hours in range(24) if hours != 10]


def test_availability_opens_at_most_ninety_days_of_hours_a_call(books: Listings, market: Store) -> None:
    seller = new_tenant()
    listing = books.create(seller, spec("capacity", seller))
    assert books.add_availability(seller, listing.id, MONDAY, MONDAY + MAX_SLOTS * HOUR) == MAX_SLOTS
    assert count(market, capacity_slots) == MAX_SLOTS


def test_only_capacity_listings_have_slots(books: Listings, market: Store) -> None:
    seller = new_tenant()
    for kind in ("capability", "product"):
        listing = listing_at(books, seller, S.PUBLISHED, kind)
        with pytest.raises(FailedPrecondition):
            books.add_availability(seller, listing.id, MONDAY, MONDAY + HOUR)
        with pytest.raises(FailedPrecondition):
            books.free_slots(new_tenant(), listing.id, MONDAY, MONDAY + HOUR)
    assert count(market, capacity_slots) == 0


# -- what orders call inside their transactions ------------------------------------------


def test_stock_is_taken_only_while_enough_remains_and_returned(books: Listings, market: Store) -> None:
    seller = new_tenant()
    product = listing_at(books, seller, S.PUBLISHED, "product", stock=10)
    service = listing_at(books, seller, S.PUBLISHED, "capability")
    assert in_transaction(market, lambda c: queries.take_stock(c, product.id, 3))
    assert not in_transaction(market, lambda c: queries.take_stock(c, product.id, 8))
    assert not in_transaction(market, lambda c: queries.take_stock(c, service.id, 1))
    assert not in_transaction(market, lambda c: queries.take_stock(c, str(uuid.uuid4()), 1))
    assert books.get(seller, product.id).stock == 7
    with market.unit_of_work() as uow:
        queries.return_stock(uow.connection, product.id, 3)
        for quantity in (0, -5, True):
            with pytest.raises(ValueError):
                queries.take_stock(uow.connection, product.id, quantity)
        uow.commit()
    assert in_transaction(market, lambda c: queries.take_stock(c, product.id, 10))
    # Selling stock is not the seller's edit: the listing's version stays.
    sold_out = books.get(seller, product.id)
    assert (sold_out.stock, sold_out.version) == (0, product.version)


def test_slots_are_booked_all_or_none_and_freed_by_their_order(books: Listings, market: Store) -> None:
    seller = new_tenant()
    listing = listing_at(books, seller, S.PUBLISHED, "capacity")
    books.add_availability(seller, listing.id, MONDAY, MONDAY + 4 * HOUR)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    hours = [MONDAY + n * HOUR for n in range(5)]

    def book(order_id: str, starts: list[datetime]) -> bool:
        return in_transaction(market, lambda c: queries.book_slots(c, listing.id, starts, order_id))

    assert book(first, [hours[0], hours[1], hours[1]])
    assert not book(second, [hours[1], hours[2]])  # one taken: the caller rolls back the other
    assert not book(second, [hours[3], hours[4]])  # 04:00 was never opened
    assert not book(second, [])
    assert book(second, [hours[2].astimezone(timezone(timedelta(hours=-5))), hours[3]])
    assert [s.starts_at for s in books.free_slots(seller, listing.id, MONDAY, hours[4])] == []
    with market.unit_of_work() as uow:
        assert queries.free_slots(uow.connection, first) == 2
        uow.commit()
    assert [s.starts_at for s in books.free_slots(seller, listing.id, MONDAY, hours[4])] == hours[:2]


def test_a_listing_is_locked_by_its_id(books: Listings, market: Store) -> None:
    seller = new_tenant()
    listing = books.create(seller, spec("product", seller))
    with market.unit_of_work() as uow:
        assert queries.lock_listing(uow.connection, listing.id) == listing
        assert queries.lock_listing(uow.connection, str(uuid.uuid4())) is None


# -- races, on PostgreSQL ---------------------------------------------------------------


def race(contenders: int, attempt: Callable[[int], bool]) -> list[bool]:
    """Every contender's attempt, all released at once."""
    start = threading.Barrier(contenders)

    def contend(index: int) -> bool:
        start.wait()
        return attempt(index)

    with ThreadPoolExecutor(contenders) as pool:
        return list(pool.map(contend, range(contenders)))


def test_twenty_buyers_racing_for_the_last_five_items_never_oversell(postgres_market: Store) -> None:
    seller = new_tenant()
    books = Listings(postgres_market.unit_of_work)
    product = listing_at(books, seller, S.PUBLISHED, "product", stock=5)
    won = race(20, lambda _: in_transaction(postgres_market, lambda c: queries.take_stock(c, product.id, 1)))
    assert (won.count(True), books.get(seller, product.id).stock) == (5, 0)


def test_ten_orders_racing_for_one_machine_hour_book_it_once(postgres_market: Store) -> None:
    seller = new_tenant()
    books = Listings(postgres_market.unit_of_work)
    listing = listing_at(books, seller, S.PUBLISHED, "capacity")
    books.add_availability(seller, listing.id, MONDAY, MONDAY + HOUR)
    orders = [str(uuid.uuid4()) for _ in range(10)]

    def book(index: int) -> bool:
        return in_transaction(
            postgres_market, lambda c: queries.book_slots(c, listing.id, [MONDAY], orders[index])
        )

    won = race(10, book)
    assert won.count(True) == 1
    with postgres_market.engine.connect() as connection:
        holder = connection.execute(select(capacity_slots.c.order_id)).scalar_one()
    assert holder == orders[won.index(True)]


def test_orders_racing_for_overlapping_hours_get_all_or_none_of_theirs(postgres_market: Store) -> None:
    seller = new_tenant()
    books = Listings(postgres_market.unit_of_work)
    listing = listing_at(books, seller, S.PUBLISHED, "capacity")
    books.add_availability(seller, listing.id, MONDAY, MONDAY + 12 * HOUR)
    # Order i wants hours i, i+1 and i+2: each overlaps its four nearest neighbours.
    wanted = {str(uuid.uuid4()): [MONDAY + (i + n) * HOUR for n in range(3)] for i in range(10)}
    orders = list(wanted)

    def book(index: int) -> bool:
        order_id = orders[index]
        return in_transaction(
            postgres_market, lambda c: queries.book_slots(c, listing.id, wanted[order_id][::-1], order_id)
        )

    won = race(10, book)
    with postgres_market.engine.connect() as connection:
        rows = connection.execute(select(capacity_slots.c.starts_at, capacity_slots.c.order_id)).all()
    booked = {starts_at: order_id for starts_at, order_id in rows if order_id is not None}
    for order_id, succeeded in zip(orders, won, strict=True):
        held = sorted(at for at, holder in booked.items() if holder == order_id)
        assert held == (wanted[order_id] if succeeded else [])
    assert any(won)
