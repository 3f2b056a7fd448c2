"""The marketplace through its gRPC API, on SQLite and PostgreSQL: a product sold from
deposit to completion exact to the fen, an RFQ quoted and accepted, capacity hours
opened and booked, retried calls with one effect, disputes ruled by the operator, the
registry asked whose device is whose; and every refusal with its status code and the
fields it names."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import pytest
from gantry.v1 import marketplace_pb2 as pb
from gantry.v1 import marketplace_pb2_grpc, registry_pb2_grpc
from gantry.v1 import registry_pb2 as registry_pb
from gantry.v1.common_pb2 import PageRequest
from google.protobuf.timestamp_pb2 import Timestamp

from services.kit.bus import ConfirmingPublisher
from services.kit.protos import from_timestamp, timestamp
from services.kit.registry import Registry, RegistryOverGrpc
from services.kit.store import Store
from services.marketplace.api.servicer import SERVICE_NAME, MarketplaceServicer
from services.marketplace.usecases.capacity import MeasuredCapacities
from tests.support.access import access_server, code_of, mask, migrated_store, reason_of, violations
from tests.support.marketplace import COMPLETED_ORDER_STATES, capacity_measured, marketplace_store
from tests.support.marketplace import keyed_call as act
from tests.support.registry import create_profile, devices_server, insert_tenant
from tests.support.serving import serving

Stub = marketplace_pb2_grpc.MarketplaceServiceStub
HOUR = timedelta(hours=1)
# Far enough ahead that no slot of these tests is ever in the past.
MONDAY = datetime(2031, 3, 3, tzinfo=UTC)
FEE_BPS = 200
# What each kind of listing must state beside the rest.
KIND_DEFAULTS: dict[int, dict[str, Any]] = {
    pb.LISTING_KIND_PRODUCT: {"unit": pb.UNIT_PIECE, "stock": 10},
    pb.LISTING_KIND_CAPACITY: {"unit": pb.UNIT_HOUR},
    pb.LISTING_KIND_CAPABILITY: {"unit": pb.UNIT_PIECE},
}


class FakeRegistry:
    """The registry as most of these tests need it: which tenants exist, which own which device."""

    def __init__(self) -> None:
        self.tenants: set[str] = set()
        self.owned: set[tuple[str, str]] = set()

    def tenant(self) -> str:
        tenant = str(uuid.uuid4())
        self.tenants.add(tenant)
        return tenant

    def device_of(self, tenant: str) -> str:
        device = str(uuid.uuid4())
        self.owned.add((tenant, device))
        return device

    def device_belongs(self, tenant: str, device: str) -> bool:
        return (tenant, device) in self.owned

    def tenant_exists(self, tenant: str) -> bool:
        return tenant in self.tenants


@contextmanager
def marketplace_server(store: Store, registry: Registry) -> Iterator[Stub]:
    servicer = MarketplaceServicer(store, registry)
    with serving(
        marketplace_pb2_grpc.add_MarketplaceServiceServicer_to_server, servicer, SERVICE_NAME
    ) as channel:
        yield Stub(channel)


@pytest.fixture
def market_store(
    database_url: str, publisher: ConfirmingPublisher, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    monkeypatch.setenv("GANTRY_MARKETPLACE_FEE_BPS", str(FEE_BPS))
    with marketplace_store(database_url, publisher) as store:
        yield store


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry()


@pytest.fixture
def market(market_store: Store, registry: FakeRegistry) -> Iterator[Stub]:
    with marketplace_server(market_store, registry) as stub:
        yield stub


def deposit(market: Stub, tenant: str, amount: int, **fields: Any) -> pb.Transfer:
    return act(
        market, "Deposit", "", **{"credit_tenant_id": tenant, "currency": "CNY", "amount": amount, **fields}
    )


def create_listing(
    market: Stub, seller: str, kind: int = pb.LISTING_KIND_PRODUCT, **fields: Any
) -> pb.Listing:
    values = {
        "title": "Spindle bearing 7014",
        "category": "cnc_machining",
        "price": 1_499,
        "currency": "CNY",
        "ship_from": "CN-32",
        **KIND_DEFAULTS.get(kind, {}),
        **fields,
    }
    return market.CreateListing(pb.CreateListingRequest(tenant_id=seller, kind=kind, **values))


def publish(market: Stub, listing: pb.Listing) -> pb.Listing:
    return market.ChangeListingStatus(
        pb.ChangeListingStatusRequest(
            tenant_id=listing.seller_id,
            listing_id=listing.id,
            expected_version=listing.version,
            status=pb.LISTING_STATUS_PUBLISHED,
        )
    )


def advance(market: Stub, tenant: str, order: pb.Order, state: int) -> pb.Order:
    return act(market, "AdvanceOrder", tenant, order_id=order.id, state=state)


def accounts(market: Stub, tenant: str) -> dict[str, pb.Account]:
    """The tenant's accounts (the platform's for ""), by kind."""
    found = market.GetAccounts(pb.GetAccountsRequest(tenant_id=tenant)).accounts
    return {pb.AccountKind.Name(a.kind).removeprefix("ACCOUNT_KIND_").lower(): a for a in found}


def spendable(market: Stub, tenant: str) -> dict[str, int]:
    return {kind: account.spendable for kind, account in accounts(market, tenant).items()}


def free_slots(market: Stub, tenant: str, listing: pb.Listing) -> list[datetime]:
    reply = market.ListFreeSlots(
        pb.ListFreeSlotsRequest(
            tenant_id=tenant,
            listing_id=listing.id,
            start=timestamp(MONDAY),
            end=timestamp(MONDAY + 24 * HOUR),
        )
    )
    return [from_timestamp(slot.starts_at) for slot in reply.slots]


def post_rfq(market: Stub, buyer: str, **fields: Any) -> pb.Rfq:
    values = {
        "category": "cnc_machining",
        "title": "Aluminium housings",
        "specification": "6061-T6, anodised",
        "quantity": 500,
        "unit": pb.UNIT_PIECE,
        "deadline": timestamp(datetime.now(UTC) + timedelta(days=10)),
        **fields,
    }
    return market.PostRfq(pb.PostRfqRequest(tenant_id=buyer, **values))


def submit_quote(market: Stub, seller: str, rfq: pb.Rfq, price: int, **fields: Any) -> pb.Quote:
    values = {
        "lead_time_days": 20,
        "valid_until": timestamp(datetime.now(UTC) + timedelta(days=5)),
        **fields,
    }
    return market.SubmitQuote(pb.SubmitQuoteRequest(tenant_id=seller, rfq_id=rfq.id, price=price, **values))


def states(history: Any) -> list[str]:
    return [pb.OrderState.Name(t.to_state).removeprefix("ORDER_STATE_").lower() for t in history]


def test_a_product_sells_from_deposit_to_completion_exact_to_the_fen(
    market: Stub, registry: FakeRegistry
) -> None:
    buyer, seller = registry.tenant(), registry.tenant()
    assert deposit(market, buyer, 100_000).amount == 100_000
    listing = publish(market, create_listing(market, seller))
    assert (listing.status, listing.version, listing.stock) == (pb.LISTING_STATUS_PUBLISHED, 2, 10)

    search = pb.SearchListingsRequest(
        tenant_id=buyer, text="BEARING", kind=pb.LISTING_KIND_PRODUCT, ship_from="CN", max_price=1_499
    )
    assert [found.id for found in market.SearchListings(search).listings] == [listing.id]

    order = act(market, "PlaceOrder", buyer, listing_id=listing.id, quantity=7)
    assert (order.state, order.total, order.fee) == (pb.ORDER_STATE_PLACED, 10_493, 209)
    left = market.GetListing(pb.GetListingRequest(tenant_id=buyer, listing_id=listing.id))
    assert left.stock == 3

    funded = act(market, "FundOrder", buyer, order_id=order.id)
    assert funded.state == pb.ORDER_STATE_FUNDED and funded.escrow_transfer_id
    held = accounts(market, buyer)
    assert (held["available"].balance, held["available"].spendable) == (100_000, 89_507)
    assert held["escrow"].credits_pending == 10_493

    for state, who in (
        (pb.ORDER_STATE_ACCEPTED, seller),
        (pb.ORDER_STATE_IN_PRODUCTION, seller),
        (pb.ORDER_STATE_SHIPPED, seller),
        (pb.ORDER_STATE_DELIVERED, buyer),
    ):
        assert advance(market, who, order, state).state == state
    done = act(market, "CompleteOrder", buyer, order_id=order.id)
    assert (done.state, done.version) == (pb.ORDER_STATE_COMPLETED, 7)

    assert spendable(market, buyer) == {"available": 89_507, "escrow": 0}
    assert spendable(market, seller) == {"available": 10_493 - 209}
    platform = accounts(market, "")
    assert platform["fee_revenue"].balance == 209
    assert platform["external"].balance == -100_000
    assert list(market.CheckLedger(pb.CheckLedgerRequest()).imbalances) == []

    reply = market.GetOrder(pb.GetOrderRequest(tenant_id=seller, order_id=order.id))
    assert reply.order == done
    assert [(line.listing_id, line.quantity, line.unit_price, line.amount) for line in reply.lines] == [
        (listing.id, 7, 1_499, 10_493)
    ]
    assert states(reply.history) == COMPLETED_ORDER_STATES
    assert reply.history[0].from_state == pb.ORDER_STATE_UNSPECIFIED
    assert reply.history[-1].actor == f"tenant:{buyer}"
    for tenant in (buyer, seller):
        listed = market.ListOrders(pb.ListOrdersRequest(tenant_id=tenant))
        assert [o.id for o in listed.orders] == [order.id] and listed.page.next_cursor == ""
    stats = market.GetPlatformStats(pb.GetPlatformStatsRequest())
    assert [(f.currency, f.completed_orders, f.amount) for f in stats.totals] == [("CNY", 1, 10_493)]
    assert [(d.day, len(d.currencies)) for d in stats.days] == [(stats.to_day, 1)]


def test_a_listing_is_edited_by_its_mask_and_listed_by_its_seller_page_by_page(
    market: Stub, registry: FakeRegistry
) -> None:
    seller = registry.tenant()
    first = create_listing(market, seller, description="kept")
    second = create_listing(market, seller, kind=pb.LISTING_KIND_CAPABILITY)
    changed = market.UpdateListing(
        pb.UpdateListingRequest(
            tenant_id=seller,
            listing_id=first.id,
            expected_version=1,
            update_mask=mask("price", "stock"),
            price=2_000,
            description="ignored: not in the mask",
            stock=0,
        )
    )
    assert (changed.price, changed.stock, changed.description, changed.version) == (2_000, 0, "kept", 2)
    assert changed.HasField("stock") and not second.HasField("stock")

    page = market.ListOwnListings(pb.ListOwnListingsRequest(tenant_id=seller, page={"page_size": 1}))
    rest = market.ListOwnListings(
        pb.ListOwnListingsRequest(tenant_id=seller, page={"page_size": 1, "cursor": page.page.next_cursor})
    )
    assert [found.id for found in (*page.listings, *rest.listings)] == [second.id, first.id]
    assert rest.page.next_cursor == ""
    paused = market.ListOwnListings(
        pb.ListOwnListingsRequest(tenant_id=seller, status=pb.LISTING_STATUS_PAUSED)
    )
    assert list(paused.listings) == []


def test_an_rfq_quoted_and_accepted_becomes_an_order(market: Stub, registry: FakeRegistry) -> None:
    buyer, seller, rival = registry.tenant(), registry.tenant(), registry.tenant()
    deposit(market, buyer, 50_000)
    rfq = post_rfq(market, buyer)
    assert rfq.status == pb.RFQ_STATUS_OPEN
    seen = market.ListOpenRfqs(pb.ListOpenRfqsRequest(tenant_id=seller, category="cnc_machining"))
    assert [r.id for r in seen.rfqs] == [rfq.id]
    assert list(market.ListOpenRfqs(pb.ListOpenRfqsRequest(tenant_id=buyer)).rfqs) == []
    assert [r.id for r in market.ListOwnRfqs(pb.ListOwnRfqsRequest(tenant_id=buyer)).rfqs] == [rfq.id]

    quote = submit_quote(market, seller, rfq, 42_000, currency="CNY")
    other = submit_quote(market, rival, rfq, 45_000)
    as_buyer = market.GetRfq(pb.GetRfqRequest(tenant_id=buyer, rfq_id=rfq.id))
    assert {q.id for q in as_buyer.quotes} == {quote.id, other.id}
    as_seller = market.GetRfq(pb.GetRfqRequest(tenant_id=seller, rfq_id=rfq.id))
    assert [q.id for q in as_seller.quotes] == [quote.id]

    order = act(market, "AcceptQuote", buyer, quote_id=quote.id)
    assert (order.seller_id, order.total, order.fee, order.quote_id) == (seller, 42_000, 840, quote.id)
    after = market.GetRfq(pb.GetRfqRequest(tenant_id=buyer, rfq_id=rfq.id))
    assert after.rfq.status == pb.RFQ_STATUS_AWARDED
    assert {q.id: q.status for q in after.quotes} == {
        quote.id: pb.QUOTE_STATUS_ACCEPTED,
        other.id: pb.QUOTE_STATUS_REJECTED,
    }
    [line] = market.GetOrder(pb.GetOrderRequest(tenant_id=buyer, order_id=order.id)).lines
    assert (line.listing_id, line.quantity, line.amount) == ("", 1, 42_000)
    act(market, "FundOrder", buyer, order_id=order.id)
    assert spendable(market, buyer)["available"] == 8_000
    withdraw = pb.WithdrawQuoteRequest(tenant_id=seller, quote_id=quote.id)
    assert code_of(lambda: market.WithdrawQuote(withdraw)) == grpc.StatusCode.FAILED_PRECONDITION


def test_a_cancelled_rfq_rejects_its_quotes_and_takes_no_more(market: Stub, registry: FakeRegistry) -> None:
    buyer, seller, late = registry.tenant(), registry.tenant(), registry.tenant()
    rfq = post_rfq(market, buyer, currency="EUR")
    withdrawn = submit_quote(market, seller, rfq, 9_000)
    assert market.WithdrawQuote(pb.WithdrawQuoteRequest(tenant_id=seller, quote_id=withdrawn.id)).status == (
        pb.QUOTE_STATUS_WITHDRAWN
    )
    standing = submit_quote(market, seller, rfq, 8_000)
    cancelled = market.CancelRfq(pb.CancelRfqRequest(tenant_id=buyer, rfq_id=rfq.id))
    assert cancelled.status == pb.RFQ_STATUS_CANCELLED
    quotes = market.GetRfq(pb.GetRfqRequest(tenant_id=seller, rfq_id=rfq.id)).quotes
    assert {q.id: q.status for q in quotes} == {
        withdrawn.id: pb.QUOTE_STATUS_WITHDRAWN,
        standing.id: pb.QUOTE_STATUS_REJECTED,
    }
    # The seller that quoted still follows the RFQ; a newcomer no longer sees it.
    assert code_of(lambda: submit_quote(market, seller, rfq, 7_000)) == grpc.StatusCode.FAILED_PRECONDITION
    assert code_of(lambda: submit_quote(market, late, rfq, 7_000)) == grpc.StatusCode.NOT_FOUND


def test_capacity_hours_are_opened_booked_by_an_order_and_freed_by_its_cancellation(
    market: Stub, registry: FakeRegistry
) -> None:
    seller, buyer, rival = registry.tenant(), registry.tenant(), registry.tenant()
    for tenant in (buyer, rival):
        deposit(market, tenant, 100_000)
    device = registry.device_of(seller)
    listing = create_listing(market, seller, pb.LISTING_KIND_CAPACITY, device_id=device, price=8_000)
    assert listing.device_id == device
    listing = publish(market, listing)

    def open_hours(start: datetime, end: datetime) -> int:
        request = pb.AddAvailabilityRequest(
            tenant_id=seller, listing_id=listing.id, start=timestamp(start), end=timestamp(end)
        )
        return market.AddAvailability(request).opened

    assert open_hours(MONDAY + 8.5 * HOUR, MONDAY + 12 * HOUR) == 4
    assert open_hours(MONDAY + 8 * HOUR, MONDAY + 10 * HOUR) == 0
    hours = [MONDAY + h * HOUR for h in range(8, 12)]
    assert free_slots(market, buyer, listing) == hours

    booked = [timestamp(hours[1]), timestamp(hours[2])]
    order = act(market, "PlaceOrder", buyer, listing_id=listing.id, quantity=2, slots=booked)
    assert (order.total, order.fee) == (16_000, 320)
    assert free_slots(market, buyer, listing) == [hours[0], hours[3]]

    def taken() -> pb.Order:
        return act(market, "PlaceOrder", rival, listing_id=listing.id, quantity=1, slots=booked[1:])

    assert code_of(taken) == grpc.StatusCode.FAILED_PRECONDITION

    act(market, "FundOrder", buyer, order_id=order.id)
    cancelled = act(market, "CancelOrder", seller, order_id=order.id)
    assert cancelled.state == pb.ORDER_STATE_CANCELLED
    assert free_slots(market, rival, listing) == hours
    assert spendable(market, buyer) == {"available": 100_000, "escrow": 0}
    assert taken().buyer_id == rival


def test_the_operator_rules_on_a_dispute_and_reads_the_order(market: Stub, registry: FakeRegistry) -> None:
    buyer, seller = registry.tenant(), registry.tenant()
    deposit(market, buyer, 20_000)
    listing = publish(market, create_listing(market, seller, pb.LISTING_KIND_CAPABILITY, price=10_000))
    order = act(market, "PlaceOrder", buyer, listing_id=listing.id, quantity=1)
    act(market, "FundOrder", buyer, order_id=order.id)
    advance(market, seller, order, pb.ORDER_STATE_ACCEPTED)
    advance(market, buyer, order, pb.ORDER_STATE_DISPUTED)

    resolved = act(market, "ResolveDispute", "", order_id=order.id, refund=4_000)
    assert resolved.state == pb.ORDER_STATE_RESOLVED
    # 6,000 released: 2% (120) to the platform, 5,880 to the seller.
    assert spendable(market, buyer) == {"available": 14_000, "escrow": 0}
    assert spendable(market, seller) == {"available": 5_880}
    assert accounts(market, "")["fee_revenue"].balance == 120
    history = market.GetOrder(pb.GetOrderRequest(tenant_id="", order_id=order.id)).history
    assert states(history)[-2:] == ["disputed", "resolved"]
    assert history[-1].actor == "operator"
    assert list(market.CheckLedger(pb.CheckLedgerRequest()).imbalances) == []


def test_a_retried_call_with_its_key_has_one_effect(market: Stub, registry: FakeRegistry) -> None:
    buyer, seller = registry.tenant(), registry.tenant()
    first = deposit(market, buyer, 30_000, idempotency_key="top-up-1")
    assert deposit(market, buyer, 30_000, idempotency_key="top-up-1") == first
    listing = publish(market, create_listing(market, seller))

    def place(quantity: int) -> pb.Order:
        return act(
            market, "PlaceOrder", buyer, listing_id=listing.id, quantity=quantity, idempotency_key="o-1"
        )

    order = place(2)
    assert place(2) == order
    for call, fields in (
        ("FundOrder", {"order_id": order.id}),
        ("Withdraw", {"currency": "CNY", "amount": 1_000}),
    ):
        first_reply, retried = (act(market, call, buyer, idempotency_key=call, **fields) for _ in range(2))
        assert retried == first_reply

    assert market.GetListing(pb.GetListingRequest(tenant_id=buyer, listing_id=listing.id)).stock == 8
    assert spendable(market, buyer) == {"available": 30_000 - 2 * 1_499 - 1_000, "escrow": 0}
    assert [o.id for o in market.ListOrders(pb.ListOrdersRequest(tenant_id=buyer)).orders] == [order.id]
    # The same key with another request is refused rather than answered with the first.
    assert reason_of(lambda: place(3)) == (grpc.StatusCode.FAILED_PRECONDITION, "IDEMPOTENCY_KEY_REUSED")


def test_the_registry_decides_whose_device_a_capacity_listing_sells(
    market_store: Store, publisher: ConfirmingPublisher, tmp_path: Path
) -> None:
    with (
        migrated_store(f"sqlite:///{tmp_path / 'registry.db'}", publisher) as registry_store,
        devices_server(registry_store) as registry,
        marketplace_server(market_store, RegistryOverGrpc(registry)) as market,
    ):
        owner, other = insert_tenant(registry_store), insert_tenant(registry_store)
        profile = create_profile(registry, owner)
        spec = registry_pb.DeviceSpec(serial_number="CNC-0001", display_name="Mill", profile_id=profile.id)
        device = registry.RegisterDevice(
            registry_pb.RegisterDeviceRequest(tenant_id=owner, device=spec)
        ).device

        listing = create_listing(market, owner, pb.LISTING_KIND_CAPACITY, device_id=device.id)
        assert listing.device_id == device.id
        for seller, device_id in ((other, device.id), (owner, str(uuid.uuid4()))):
            refused = partial(create_listing, market, seller, pb.LISTING_KIND_CAPACITY, device_id=device_id)
            assert set(violations(refused)) == {"device_id"}


def measure(store: Store, tenant: str, device: str, **figures: float | None) -> None:
    """What analytics measured of the device for its tenant, as marketplace-worker keeps it."""
    assert MeasuredCapacities(store.unit_of_work).learn(capacity_measured(tenant, device, MONDAY, **figures))


def test_a_capacity_listing_shows_what_was_measured_of_its_sellers_device_alone(
    market: Stub, market_store: Store, registry: FakeRegistry
) -> None:
    seller, other = registry.tenant(), registry.tenant()
    device = registry.device_of(seller)
    measure(market_store, seller, device, idle_hours_per_week=30.5, oee=None, mtbf_seconds=7_200.0)
    listing = publish(market, create_listing(market, seller, pb.LISTING_KIND_CAPACITY, device_id=device))

    expected = pb.CapacityMeasurement(
        idle_hours_per_week=30.5,
        utilisation=0.5,
        mtbf_hours=2.0,
        start=timestamp(MONDAY - timedelta(weeks=4)),
        end=timestamp(MONDAY),
        measured_at=timestamp(MONDAY),
    )
    assert listing.measured == expected
    assert not listing.measured.HasField("oee")
    read = market.GetListing(pb.GetListingRequest(tenant_id=other, listing_id=listing.id))
    own = market.ListOwnListings(pb.ListOwnListingsRequest(tenant_id=seller)).listings
    assert read.measured == expected and [found.measured for found in own] == [expected]

    # The registry now says the device is another tenant's: the seller's figures are not its.
    registry.owned.add((other, device))
    stranger = publish(market, create_listing(market, other, pb.LISTING_KIND_CAPACITY, device_id=device))
    assert not stranger.HasField("measured")
    assert not market.GetListing(pb.GetListingRequest(tenant_id=seller, listing_id=stranger.id)).HasField(
        "measured"
    )


def test_a_search_by_measured_figures_leaves_out_the_unmeasured_page_by_page(
    market: Stub, market_store: Store, registry: FakeRegistry
) -> None:
    buyer, seller = registry.tenant(), registry.tenant()
    title = f"Measured mill {uuid.uuid4().hex}"

    def listed(price: int, **figures: float | None) -> str:
        device = registry.device_of(seller)
        if figures:
            measure(market_store, seller, device, **figures)
        fields = {"device_id": device, "price": price, "title": title}
        return publish(market, create_listing(market, seller, pb.LISTING_KIND_CAPACITY, **fields)).id

    idle = listed(100, idle_hours_per_week=80.0, oee=0.9, mtbf_seconds=72_000.0)
    busy = listed(200, idle_hours_per_week=10.0, oee=0.5, mtbf_seconds=3_600.0)
    unplanned = listed(300, idle_hours_per_week=60.0, oee=None, mtbf_seconds=None)
    unmeasured = listed(400)

    def found(**bounds: float) -> list[str]:
        ids, cursor = [], ""
        while True:  # a page of one at a time, so that every page boundary is crossed
            request = pb.SearchListingsRequest(
                tenant_id=buyer,
                text=title,
                order_by="price",
                page=PageRequest(page_size=1, cursor=cursor),
                **bounds,
            )
            answer = market.SearchListings(request)
            ids += [listing.id for listing in answer.listings]
            if not (cursor := answer.page.next_cursor):
                return ids

    assert found() == [idle, busy, unplanned, unmeasured]
    assert found(min_idle_hours_per_week=50) == [idle, unplanned]
    assert found(min_oee=0.5) == [idle, busy]
    assert found(min_mtbf_hours=2) == [idle]
    assert found(min_idle_hours_per_week=5, min_oee=0.6) == [idle]
    for bound in ("min_idle_hours_per_week", "min_oee", "min_mtbf_hours", "min_idle_hours_next_week"):
        refused = partial(market.SearchListings, pb.SearchListingsRequest(tenant_id=buyer, **{bound: -1}))
        assert set(violations(refused)) == {bound}


def test_money_credited_to_no_registered_company_is_refused_and_nothing_moves(
    market_store: Store, publisher: ConfirmingPublisher, tmp_path: Path
) -> None:
    with (
        migrated_store(f"sqlite:///{tmp_path / 'registry.db'}", publisher) as registry_store,
        access_server(registry_store) as registry,
        marketplace_server(market_store, RegistryOverGrpc(registry)) as market,
    ):
        company, nobody = insert_tenant(registry_store), str(uuid.uuid4())
        assert deposit(market, company, 5_000).amount == 5_000

        assert set(violations(lambda: deposit(market, nobody, 5_000))) == {"credit_tenant_id"}

        assert list(market.GetAccounts(pb.GetAccountsRequest(tenant_id=nobody)).accounts) == []
        platform = {a.kind: a for a in market.GetAccounts(pb.GetAccountsRequest()).accounts}
        assert platform[pb.ACCOUNT_KIND_EXTERNAL].debits_posted == 5_000


def test_a_registry_that_cannot_answer_makes_the_call_unavailable(market_store: Store) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with (
        grpc.insecure_channel(f"127.0.0.1:{closed_port}") as channel,
        marketplace_server(
            market_store, RegistryOverGrpc(registry_pb2_grpc.RegistryServiceStub(channel))
        ) as market,
    ):
        seller = str(uuid.uuid4())
        listing = partial(
            create_listing, market, seller, pb.LISTING_KIND_CAPACITY, device_id=str(uuid.uuid4())
        )
        assert code_of(listing) == grpc.StatusCode.UNAVAILABLE


@dataclass(frozen=True)
class Scene:
    """A small market: a funded buyer's placed order of a seller's published product, a
    seller's draft capacity listing, the buyer's open RFQ with the seller's quote and its
    cancelled one, and a stranger."""

    market: Stub
    buyer: str
    seller: str
    stranger: str
    product: pb.Listing
    draft: pb.Listing
    order: pb.Order
    rfq: pb.Rfq
    quote: pb.Quote
    cancelled_rfq: pb.Rfq


@pytest.fixture
def scene(market: Stub, registry: FakeRegistry) -> Scene:
    buyer, seller, stranger = registry.tenant(), registry.tenant(), registry.tenant()
    deposit(market, buyer, 10_000)
    product = publish(market, create_listing(market, seller))
    draft = create_listing(market, seller, pb.LISTING_KIND_CAPACITY, device_id=registry.device_of(seller))
    order = act(market, "PlaceOrder", buyer, listing_id=product.id, quantity=1)
    product = market.GetListing(pb.GetListingRequest(tenant_id=seller, listing_id=product.id))
    rfq = post_rfq(market, buyer)
    quote = submit_quote(market, seller, rfq, 5_000)
    cancelled = market.CancelRfq(pb.CancelRfqRequest(tenant_id=buyer, rfq_id=post_rfq(market, buyer).id))
    return Scene(market, buyer, seller, stranger, product, draft, order, rfq, quote, cancelled)


def huge_timestamp() -> Timestamp:
    """Year 36,812: beyond what a Timestamp may say (9999-12-31)."""
    return Timestamp(seconds=2**40)


# Each call with one bad input, and the field its refusal names.
BAD_INPUT: list[tuple[str, Callable[[Scene], Any], str]] = [
    ("negative deposit", lambda s: deposit(s.market, s.buyer, -5), "amount"),
    ("unknown currency", lambda s: deposit(s.market, s.buyer, 5, currency="XYZ"), "currency"),
    ("credited tenant not a uuid", lambda s: deposit(s.market, "nope", 5), "credit_tenant_id"),
    (
        "negative withdrawal",
        lambda s: act(s.market, "Withdraw", s.buyer, currency="CNY", amount=-1),
        "amount",
    ),
    (
        "empty reason",
        lambda s: act(s.market, "Withdraw", s.buyer, currency="CNY", amount=1, reason=""),
        "reason",
    ),
    ("unknown kind", lambda s: create_listing(s.market, s.seller, 99), "kind"),
    ("unknown unit", lambda s: create_listing(s.market, s.seller, unit=-3), "unit"),
    ("negative price", lambda s: create_listing(s.market, s.seller, price=-1_499), "price"),
    ("negative stock", lambda s: create_listing(s.market, s.seller, stock=-1), "stock"),
    ("seller not a uuid", lambda s: create_listing(s.market, "acme"), "tenant_id"),
    (
        "device not a uuid",
        lambda s: create_listing(s.market, s.seller, pb.LISTING_KIND_CAPACITY, device_id="mill-7"),
        "device_id",
    ),
    (
        "unknown status",
        lambda s: s.market.ChangeListingStatus(
            pb.ChangeListingStatusRequest(
                tenant_id=s.seller, listing_id=s.product.id, expected_version=2, status=9
            )
        ),
        "status",
    ),
    (
        "mask names a fixed field",
        lambda s: s.market.UpdateListing(
            pb.UpdateListingRequest(
                tenant_id=s.seller, listing_id=s.product.id, expected_version=2, update_mask=mask("seller_id")
            )
        ),
        "update_mask",
    ),
    (
        "empty mask",
        lambda s: s.market.UpdateListing(
            pb.UpdateListingRequest(tenant_id=s.seller, listing_id=s.product.id, expected_version=2)
        ),
        "update_mask",
    ),
    (
        "missing end",
        lambda s: s.market.AddAvailability(
            pb.AddAvailabilityRequest(tenant_id=s.seller, listing_id=s.draft.id, start=timestamp(MONDAY))
        ),
        "end",
    ),
    (
        "start beyond year 9999",
        lambda s: s.market.AddAvailability(
            pb.AddAvailabilityRequest(
                tenant_id=s.seller, listing_id=s.draft.id, start=huge_timestamp(), end=timestamp(MONDAY)
            )
        ),
        "start",
    ),
    (
        "missing start",
        lambda s: s.market.ListFreeSlots(
            pb.ListFreeSlotsRequest(tenant_id=s.seller, listing_id=s.draft.id, end=timestamp(MONDAY))
        ),
        "start",
    ),
    (
        "unknown kind filter",
        lambda s: s.market.SearchListings(pb.SearchListingsRequest(tenant_id=s.buyer, kind=7)),
        "kind",
    ),
    (
        "negative price filter",
        lambda s: s.market.SearchListings(pb.SearchListingsRequest(tenant_id=s.buyer, min_price=-1)),
        "min_price",
    ),
    (
        "unknown sort order",
        lambda s: s.market.SearchListings(pb.SearchListingsRequest(tenant_id=s.buyer, order_by="title")),
        "order_by",
    ),
    (
        "page too large",
        lambda s: s.market.SearchListings(
            pb.SearchListingsRequest(tenant_id=s.buyer, page={"page_size": 5_000})
        ),
        "page.page_size",
    ),
    (
        "unknown status filter",
        lambda s: s.market.ListOwnListings(pb.ListOwnListingsRequest(tenant_id=s.seller, status=12)),
        "status",
    ),
    (
        "forged cursor",
        lambda s: s.market.ListOrders(
            pb.ListOrdersRequest(tenant_id=s.buyer, page={"cursor": "not-a-cursor"})
        ),
        "page.cursor",
    ),
    (
        "listing not a uuid",
        lambda s: s.market.GetListing(pb.GetListingRequest(tenant_id=s.buyer, listing_id="7")),
        "listing_id",
    ),
    ("rfq without a deadline", lambda s: post_rfq(s.market, s.buyer, deadline=None), "deadline"),
    ("unknown rfq unit", lambda s: post_rfq(s.market, s.buyer, unit=8), "unit"),
    (
        "quote without validity",
        lambda s: submit_quote(s.market, s.seller, s.rfq, 1, valid_until=None),
        "valid_until",
    ),
    (
        "rfq not a uuid",
        lambda s: s.market.GetRfq(pb.GetRfqRequest(tenant_id=s.buyer, rfq_id="rfq-1")),
        "rfq_id",
    ),
    (
        "negative quantity",
        lambda s: act(s.market, "PlaceOrder", s.buyer, listing_id=s.product.id, quantity=-1),
        "quantity",
    ),
    (
        "slot beyond year 9999",
        lambda s: act(
            s.market,
            "PlaceOrder",
            s.buyer,
            listing_id=s.product.id,
            quantity=2,
            slots=[timestamp(MONDAY), huge_timestamp()],
        ),
        "slots[1]",
    ),
    (
        "empty idempotency key",
        lambda s: act(s.market, "FundOrder", s.buyer, order_id=s.order.id, idempotency_key=""),
        "idempotency_key",
    ),
    ("funder not a uuid", lambda s: act(s.market, "FundOrder", "buyer", order_id=s.order.id), "tenant_id"),
    ("order not a uuid", lambda s: act(s.market, "FundOrder", s.buyer, order_id="42"), "order_id"),
    ("quote not a uuid", lambda s: act(s.market, "AcceptQuote", s.buyer, quote_id="q"), "quote_id"),
    ("unknown target state", lambda s: advance(s.market, s.seller, s.order, 99), "state"),
    ("target moves money", lambda s: advance(s.market, s.buyer, s.order, pb.ORDER_STATE_COMPLETED), "state"),
    ("no target state", lambda s: advance(s.market, s.buyer, s.order, pb.ORDER_STATE_UNSPECIFIED), "state"),
    (
        "reader not a uuid",
        lambda s: s.market.GetOrder(pb.GetOrderRequest(tenant_id="platform", order_id=s.order.id)),
        "tenant_id",
    ),
    ("accounts of the platform", lambda s: accounts(s.market, "platform"), "tenant_id"),
    (
        "figures from a month 13",
        lambda s: s.market.GetPlatformStats(pb.GetPlatformStatsRequest(from_day="2026-13-01")),
        "from_day",
    ),
    (
        "figures of more than a year",
        lambda s: s.market.GetPlatformStats(
            pb.GetPlatformStatsRequest(from_day="2020-01-01", to_day="2026-01-01")
        ),
        "to_day",
    ),
]


@pytest.mark.parametrize(
    ("call", "field"), [case[1:] for case in BAD_INPUT], ids=[case[0] for case in BAD_INPUT]
)
def test_bad_input_is_invalid_argument_naming_the_field(
    scene: Scene, call: Callable[[Scene], Any], field: str
) -> None:
    assert field in violations(lambda: call(scene))


# Each call naming a listing, RFQ, quote or order the stranger may not see or change.
ANOTHER_TENANTS: list[tuple[str, Callable[[Scene], Any]]] = [
    (
        "GetListing",
        lambda s: s.market.GetListing(pb.GetListingRequest(tenant_id=s.stranger, listing_id=s.draft.id)),
    ),
    (
        "UpdateListing",
        lambda s: s.market.UpdateListing(
            pb.UpdateListingRequest(
                tenant_id=s.stranger,
                listing_id=s.product.id,
                expected_version=2,
                update_mask=mask("price"),
                price=1,
            )
        ),
    ),
    (
        "ChangeListingStatus",
        lambda s: s.market.ChangeListingStatus(
            pb.ChangeListingStatusRequest(
                tenant_id=s.stranger,
                listing_id=s.product.id,
                expected_version=2,
                status=pb.LISTING_STATUS_CLOSED,
            )
        ),
    ),
    (
        "AddAvailability",
        lambda s: s.market.AddAvailability(
            pb.AddAvailabilityRequest(
                tenant_id=s.stranger,
                listing_id=s.draft.id,
                start=timestamp(MONDAY),
                end=timestamp(MONDAY + HOUR),
            )
        ),
    ),
    ("ListFreeSlots", lambda s: free_slots(s.market, s.stranger, s.draft)),
    ("PlaceOrder", lambda s: act(s.market, "PlaceOrder", s.stranger, listing_id=s.draft.id, quantity=1)),
    ("GetRfq", lambda s: s.market.GetRfq(pb.GetRfqRequest(tenant_id=s.stranger, rfq_id=s.cancelled_rfq.id))),
    ("CancelRfq", lambda s: s.market.CancelRfq(pb.CancelRfqRequest(tenant_id=s.stranger, rfq_id=s.rfq.id))),
    ("SubmitQuote", lambda s: submit_quote(s.market, s.stranger, s.cancelled_rfq, 1)),
    (
        "WithdrawQuote",
        lambda s: s.market.WithdrawQuote(pb.WithdrawQuoteRequest(tenant_id=s.stranger, quote_id=s.quote.id)),
    ),
    ("AcceptQuote", lambda s: act(s.market, "AcceptQuote", s.stranger, quote_id=s.quote.id)),
    ("FundOrder", lambda s: act(s.market, "FundOrder", s.stranger, order_id=s.order.id)),
    ("AdvanceOrder", lambda s: advance(s.market, s.stranger, s.order, pb.ORDER_STATE_ACCEPTED)),
    ("CompleteOrder", lambda s: act(s.market, "CompleteOrder", s.stranger, order_id=s.order.id)),
    ("CancelOrder", lambda s: act(s.market, "CancelOrder", s.stranger, order_id=s.order.id)),
    # The operator sees every order: only one that does not exist is not found.
    ("ResolveDispute", lambda s: act(s.market, "ResolveDispute", "", order_id=str(uuid.uuid4()), refund=0)),
    ("GetOrder", lambda s: s.market.GetOrder(pb.GetOrderRequest(tenant_id=s.stranger, order_id=s.order.id))),
]


@pytest.mark.parametrize(
    "call", [case[1] for case in ANOTHER_TENANTS], ids=[case[0] for case in ANOTHER_TENANTS]
)
def test_what_another_tenant_holds_is_not_found_and_unchanged(
    scene: Scene, call: Callable[[Scene], Any]
) -> None:
    assert code_of(lambda: call(scene)) == grpc.StatusCode.NOT_FOUND
    seen = scene.market.GetOrder(pb.GetOrderRequest(tenant_id=scene.buyer, order_id=scene.order.id))
    assert seen.order == scene.order
    assert (
        scene.market.GetListing(pb.GetListingRequest(tenant_id=scene.seller, listing_id=scene.product.id))
        == scene.product
    )


# Each call the lifecycle, the rules of who may do what, or a balance forbids.
REFUSED: list[tuple[str, Callable[[Scene], Any]]] = [
    ("the seller funds", lambda s: act(s.market, "FundOrder", s.seller, order_id=s.order.id)),
    ("accepted before funded", lambda s: advance(s.market, s.seller, s.order, pb.ORDER_STATE_ACCEPTED)),
    ("shipped from placed", lambda s: advance(s.market, s.seller, s.order, pb.ORDER_STATE_SHIPPED)),
    ("completed before delivery", lambda s: act(s.market, "CompleteOrder", s.buyer, order_id=s.order.id)),
    ("a tenant rules on a dispute", lambda s: act(s.market, "ResolveDispute", s.buyer, order_id=s.order.id)),
    (
        "a tenant deposits",
        lambda s: act(s.market, "Deposit", s.buyer, credit_tenant_id=s.buyer, currency="CNY", amount=1),
    ),
    (
        "buying from oneself",
        lambda s: act(s.market, "PlaceOrder", s.seller, listing_id=s.product.id, quantity=1),
    ),
    (
        "more than the stock",
        lambda s: act(s.market, "PlaceOrder", s.buyer, listing_id=s.product.id, quantity=10),
    ),
    ("slots of a product", lambda s: free_slots(s.market, s.seller, s.product)),
    (
        "a draft paused",
        lambda s: s.market.ChangeListingStatus(
            pb.ChangeListingStatusRequest(
                tenant_id=s.seller, listing_id=s.draft.id, expected_version=1, status=pb.LISTING_STATUS_PAUSED
            )
        ),
    ),
    (
        "withdrawing more than the balance",
        lambda s: act(s.market, "Withdraw", s.buyer, currency="CNY", amount=10_001),
    ),
    ("quoting one's own rfq", lambda s: submit_quote(s.market, s.buyer, s.rfq, 1)),
    ("a second open quote", lambda s: submit_quote(s.market, s.seller, s.rfq, 1)),
    (
        "cancelling a cancelled rfq",
        lambda s: s.market.CancelRfq(pb.CancelRfqRequest(tenant_id=s.buyer, rfq_id=s.cancelled_rfq.id)),
    ),
]


@pytest.mark.parametrize("call", [case[1] for case in REFUSED], ids=[case[0] for case in REFUSED])
def test_what_the_rules_forbid_is_failed_precondition(scene: Scene, call: Callable[[Scene], Any]) -> None:
    assert code_of(lambda: call(scene)) == grpc.StatusCode.FAILED_PRECONDITION


def test_funding_without_the_money_is_refused_and_moves_nothing(scene: Scene) -> None:
    market, seller = scene.market, scene.seller
    big = publish(market, create_listing(market, seller, pb.LISTING_KIND_CAPABILITY, price=10_001))
    order = act(market, "PlaceOrder", scene.buyer, listing_id=big.id, quantity=1)
    assert code_of(lambda: act(market, "FundOrder", scene.buyer, order_id=order.id)) == (
        grpc.StatusCode.FAILED_PRECONDITION
    )
    # A refused funding may leave the buyer's escrow account opened, empty.
    assert spendable(market, scene.buyer) in ({"available": 10_000}, {"available": 10_000, "escrow": 0})
    assert market.GetOrder(pb.GetOrderRequest(tenant_id=scene.buyer, order_id=order.id)).order == order


def test_a_stale_version_is_aborted_and_changes_nothing(scene: Scene) -> None:
    market, seller, product = scene.market, scene.seller, scene.product
    stale = {"tenant_id": seller, "listing_id": product.id, "expected_version": product.version - 1}
    update = pb.UpdateListingRequest(**stale, update_mask=mask("title"), title="Renamed")
    assert code_of(lambda: market.UpdateListing(update)) == grpc.StatusCode.ABORTED
    close = pb.ChangeListingStatusRequest(**stale, status=pb.LISTING_STATUS_CLOSED)
    assert code_of(lambda: market.ChangeListingStatus(close)) == grpc.StatusCode.ABORTED
    assert market.GetListing(pb.GetListingRequest(tenant_id=seller, listing_id=product.id)) == product
