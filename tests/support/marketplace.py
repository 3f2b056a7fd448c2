"""Marketplace fixtures for tests and benchmarks: its store on a migrated database, a market
to trade in with listings made directly, and keyed calls of its gRPC API."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from gantry.v1 import marketplace_pb2 as pb
from sqlalchemy import insert, select

from services.kit.bus import Publish
from services.kit.events import Event, new_event, parse_event
from services.kit.migrate import upgrade
from services.kit.store import Store
from services.marketplace.domain.orders import OrderState
from services.marketplace.storage import capacity_slots, listings, metadata
from services.marketplace.usecases import Clock
from services.marketplace.usecases.ledger import Ledger, Movement
from services.marketplace.usecases.orders import Command, Orders


@contextmanager
def marketplace_store(url: str, publish: Publish) -> Iterator[Store]:
    upgrade("marketplace", url)
    store = Store("marketplace", metadata, publish, url=url)
    try:
        yield store
    finally:
        store.close()


NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
# The states an order passes through from placed to completed, in order.
COMPLETED_ORDER_STATES = [
    "placed",
    "funded",
    "accepted",
    "in_production",
    "shipped",
    "delivered",
    "completed",
]


class Market:
    """A marketplace store with its ledger and orders, and sellers' listings made directly."""

    def __init__(self, store: Store, clock: Clock = lambda: NOW) -> None:
        self.store = store
        self.ledger = Ledger(store.unit_of_work)
        self.orders = Orders(store.unit_of_work, clock=clock, fee_bps=200)

    def funded_tenant(self, amount: int = 100_000, currency: str = "CNY") -> str:
        tenant = str(uuid.uuid4())
        if amount:
            self.ledger.deposit(Movement("operator", "top-up", str(uuid.uuid4())), tenant, currency, amount)
        return tenant

    def listing(self, seller: str, kind: str = "product", price: int = 1_500, **values: object) -> str:
        listing_id = str(uuid.uuid4())
        row = {
            "id": listing_id,
            "seller_id": seller,
            "kind": kind,
            "title": f"{kind} offer",
            "description": "",
            "category": "cnc_machining",
            "price": price,
            "currency": "CNY",
            "unit": "hour" if kind == "capacity" else "piece",
            "min_order_quantity": 1,
            "lead_time_days": 5,
            "ship_from": "CN-32",
            "status": "published",
            "device_id": str(uuid.uuid4()) if kind == "capacity" else None,
            "stock": 10 if kind == "product" else None,
            "version": 1,
            "created_at": NOW,
            "updated_at": NOW,
        }
        with self.store.engine.begin() as connection:
            connection.execute(insert(listings).values(**{**row, **values}))
            if kind == "capacity":
                connection.execute(
                    insert(capacity_slots),
                    [
                        {
                            "listing_id": listing_id,
                            "starts_at": NOW + timedelta(hours=h),
                            "ends_at": NOW + timedelta(hours=h + 1),
                        }
                        for h in range(8)
                    ],
                )
        return listing_id

    def deliver(self, order_id: str, buyer: str, seller: str) -> None:
        """Moves a funded order to delivered: the seller accepts, produces and ships, the
        buyer confirms delivery."""
        for state, who in (
            (OrderState.ACCEPTED, seller),
            (OrderState.IN_PRODUCTION, seller),
            (OrderState.SHIPPED, seller),
            (OrderState.DELIVERED, buyer),
        ):
            self.orders.advance(act(who), order_id, state)

    def stock(self, listing_id: str) -> int:
        with self.store.engine.connect() as connection:
            return connection.execute(
                select(listings.c.stock).where(listings.c.id == listing_id)
            ).scalar_one()

    def available(self, owner: str) -> dict[str, int]:
        return {str(a.kind): a.spendable for a in self.ledger.accounts(owner)}


def act(tenant: str | None, key: str | None = None) -> Command:
    return Command(tenant, "test", key or str(uuid.uuid4()))


def keyed_call(market: Any, call: str, tenant: str, **fields: Any) -> Any:
    """A gRPC call that moves money or places an order, by `tenant` ("" for the operator),
    under a fresh idempotency key unless `fields` name one."""
    values = {"idempotency_key": str(uuid.uuid4()), "reason": "test", **fields}
    return getattr(market, call)(getattr(pb, f"{call}Request")(tenant_id=tenant, **values))


def capacity_measured(tenant: str, device: str, measured_at: datetime, **figures: Any) -> Event:
    """A capacity.measured event of the device for its tenant, as the marketplace receives
    it from the bus (its data parsed); `figures` override idle, utilisation, oee, mtbf, its
    zone and hours."""
    hours = [
        {
            "weekday": day,
            "hour": hour,
            "producing_seconds": 1800.0,
            "idle_seconds": 1800.0,
            "down_seconds": 0.0,
        }
        for day in range(7)
        for hour in range(24)
    ]
    data = {
        "device_id": device,
        "zone": "Asia/Shanghai",
        "start": (measured_at - timedelta(weeks=4)).isoformat(),
        "end": measured_at.isoformat(),
        "hours": hours,
        "utilisation": 0.5,
        "idle_hours_per_week": 84.0,
        "oee": 0.6,
        "mtbf_seconds": 36_000.0,
        "measured_at": measured_at.isoformat(),
        **figures,
    }
    return parse_event(new_event("capacity.measured", tenant, data).to_message())
