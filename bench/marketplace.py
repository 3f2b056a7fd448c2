"""Marketplace: ledger transfers/s against a plain two-UPDATE SQL transfer in the same run
(`ratio`), both with 16 concurrent clients on PostgreSQL among 200 accounts; then complete
order lifecycles/s (place, fund, accept, produce, ship, deliver, complete) with 16
concurrent buyers; the ledger's zero-sum invariant is checked after the run.

The lifecycles run through the use cases, in process: the marketplace has no gRPC
methods yet.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime

import psycopg
from sqlalchemy import insert

from services.kit.bus import ConfirmingPublisher
from services.kit.db import normalise_url
from services.kit.migrate import upgrade
from services.kit.store import Store
from services.marketplace.domain.ledger import AccountKind
from services.marketplace.domain.orders import OrderState
from services.marketplace.storage import listings, metadata
from services.marketplace.usecases.ledger import Leg, Ledger, Movement
from services.marketplace.usecases.orders import Command, Orders
from tests.support.backends import AMQP_URL, bus_namespace, postgres_database

TRANSFERS = int(os.environ.get("BENCH_MARKETPLACE_TRANSFERS", "4000"))
LIFECYCLES = int(os.environ.get("BENCH_MARKETPLACE_LIFECYCLES", "400"))
CLIENTS = 16
TENANTS = 200
START_BALANCE = 10**9


def timed(work: Callable[[int], object], count: int) -> float:
    """Calls of `work` per second, `count` of them from CLIENTS threads."""
    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(work, range(count)))
    return count / (time.perf_counter() - started)


def plain_transfers(database_url: str, pairs: list[tuple[int, int]]) -> float:
    """The reference: a transfer as two UPDATEs of a balance column in one transaction."""
    url = normalise_url(database_url).replace("+psycopg", "")
    with psycopg.connect(url, autocommit=True) as setup:
        setup.execute("CREATE TABLE plain_accounts (id int PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0))")
        setup.execute(f"INSERT INTO plain_accounts SELECT i, {START_BALANCE} FROM generate_series(0, {TENANTS - 1}) i")
    connections = [psycopg.connect(url) for _ in range(CLIENTS)]
    free = list(connections)

    def transfer(index: int) -> None:
        connection = free.pop()
        debit, credit = pairs[index]
        # In the order of the ids, as the ledger locks, so that racing transfers never deadlock.
        changes = sorted(((debit, -1), (credit, 1)))
        with connection.transaction():
            for account, delta in changes:
                connection.execute("UPDATE plain_accounts SET balance = balance + %s WHERE id = %s", (delta, account))
        free.append(connection)

    try:
        return timed(transfer, len(pairs))
    finally:
        for connection in connections:
            connection.close()


def ledger_transfers(ledger: Ledger, tenants: list[str], pairs: list[tuple[int, int]]) -> float:
    def transfer(index: int) -> None:
        debit, credit = pairs[index]
        leg = Leg((tenants[debit], AccountKind.AVAILABLE), (tenants[credit], AccountKind.AVAILABLE), 1, "adjustment")
        ledger.transfer(Movement("bench", "transfer", str(uuid.uuid4())), "CNY", [leg])

    return timed(transfer, len(pairs))


def lifecycles(store: Store, orders: Orders, tenants: list[str]) -> float:
    seller = tenants[0]
    listing_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    with store.engine.begin() as connection:
        connection.execute(insert(listings).values(
            id=listing_id, seller_id=seller, kind="capability", title="5-axis milling", description="",
            category="cnc_machining", price=12_000, currency="CNY", unit="piece", min_order_quantity=1,
            lead_time_days=7, ship_from="CN-32", status="published", version=1, created_at=now, updated_at=now))

    def lifecycle(index: int) -> None:
        buyer = tenants[1 + index % (len(tenants) - 1)]
        order = orders.place(Command(buyer, "bench", str(uuid.uuid4())), listing_id, 1)
        orders.fund(Command(buyer, "bench", str(uuid.uuid4())), order.id)
        for state, who in ((OrderState.ACCEPTED, seller), (OrderState.IN_PRODUCTION, seller),
                           (OrderState.SHIPPED, seller), (OrderState.DELIVERED, buyer)):
            orders.advance(Command(who, "bench", str(uuid.uuid4())), order.id, state)
        orders.complete(Command(buyer, "bench", str(uuid.uuid4())), order.id)

    return timed(lifecycle, LIFECYCLES)


def run() -> dict:
    rng = random.Random(7)
    pairs = [tuple(rng.sample(range(TENANTS), 2)) for _ in range(TRANSFERS)]
    with ExitStack() as stack:
        database_url = stack.enter_context(postgres_database())
        topology = stack.enter_context(bus_namespace([]))
        upgrade("marketplace", database_url)
        publisher = ConfirmingPublisher(AMQP_URL, topology)
        stack.callback(publisher.close)
        store = Store("marketplace", metadata, publisher, url=database_url)
        stack.callback(store.close)
        ledger = Ledger(store.unit_of_work)
        tenants = [str(uuid.uuid4()) for _ in range(TENANTS)]
        for tenant in tenants:
            ledger.deposit(Movement("bench", "opening balance", str(uuid.uuid4())), tenant, "CNY", START_BALANCE)
        figures = {
            "plain_transfers_per_s": round(plain_transfers(database_url, pairs)),
            "ledger_transfers_per_s": round(ledger_transfers(ledger, tenants, pairs)),
            "order_lifecycles_per_s": round(lifecycles(store, Orders(store.unit_of_work), tenants), 1),
        }
        imbalances = ledger.imbalances()
    assert imbalances == {}, imbalances
    figures["ratio"] = round(figures["ledger_transfers_per_s"] / figures["plain_transfers_per_s"], 3)
    figures["ledger_balanced"] = 1
    for name, value in figures.items():
        print(f"{name:28} {value}")
    return figures
