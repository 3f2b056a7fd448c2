"""Marketplace: ledger transfers/s against a plain two-UPDATE SQL transfer in the same run
(`ratio`), both in this process with 16 concurrent clients on PostgreSQL among 200
accounts; then complete order lifecycles/s (place, fund, accept, produce, ship, deliver,
complete: seven calls each) with 16 concurrent buyers through gRPC, against a
marketplace-api process of its own on the same database. Every tenant is funded with an
opening balance through the ledger in this process (the Deposit rpc would ask a registry,
which the benchmark does not run); the ledger's zero-sum invariant is checked through
CheckLedger after the run, and any imbalance fails the benchmark.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import grpc
import psycopg
from gantry.v1 import marketplace_pb2 as pb
from gantry.v1 import marketplace_pb2_grpc

from bench.registry import start
from services.kit.bus import ConfirmingPublisher
from services.kit.db import normalise_url
from services.kit.migrate import upgrade
from services.kit.store import Store
from services.marketplace.domain.ledger import AccountKind
from services.marketplace.storage import metadata
from services.marketplace.usecases.ledger import Ledger, Leg, Movement
from tests.support.backends import AMQP_URL, bus_namespace, postgres_database
from tests.support.marketplace import keyed_call
from tests.support.platform import ROOT, free_port

TRANSFERS = int(os.environ.get("BENCH_MARKETPLACE_TRANSFERS", "20000"))
LIFECYCLES = int(os.environ.get("BENCH_MARKETPLACE_LIFECYCLES", "400"))
CLIENTS = 16
WARM_UP_LIFECYCLES = 4 * CLIENTS
TENANTS = 200
START_BALANCE = 10**9
PRICE = 12_000
# What the seller, then the buyer, does between funding and completion.
PROGRESS = (
    ("seller", pb.ORDER_STATE_ACCEPTED),
    ("seller", pb.ORDER_STATE_IN_PRODUCTION),
    ("seller", pb.ORDER_STATE_SHIPPED),
    ("buyer", pb.ORDER_STATE_DELIVERED),
)
Stub = marketplace_pb2_grpc.MarketplaceServiceStub


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
        setup.execute(
            "CREATE TABLE plain_accounts (id int PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0))"
        )
        setup.execute(
            f"INSERT INTO plain_accounts SELECT i, {START_BALANCE} FROM generate_series(0, {TENANTS - 1}) i"
        )
    connections = [psycopg.connect(url) for _ in range(CLIENTS)]
    free = list(connections)

    def transfer(index: int) -> None:
        connection = free.pop()
        debit, credit = pairs[index]
        # In the order of the ids, as the ledger locks, so that racing transfers never deadlock.
        changes = sorted(((debit, -1), (credit, 1)))
        with connection.transaction():
            for account, delta in changes:
                connection.execute(
                    "UPDATE plain_accounts SET balance = balance + %s WHERE id = %s", (delta, account)
                )
        free.append(connection)

    try:
        return timed(transfer, len(pairs))
    finally:
        for connection in connections:
            connection.close()


def ledger_transfers(ledger: Ledger, tenants: list[str], pairs: list[tuple[int, int]]) -> float:
    def transfer(index: int) -> None:
        debit, credit = pairs[index]
        leg = Leg(
            (tenants[debit], AccountKind.AVAILABLE), (tenants[credit], AccountKind.AVAILABLE), 1, "adjustment"
        )
        ledger.transfer(Movement("bench", "transfer", str(uuid.uuid4())), "CNY", [leg])

    return timed(transfer, len(pairs))


def marketplace_api(stack: ExitStack, database_url: str, namespace: str) -> str:
    """A marketplace-api process on the database, as operators run it; its address."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'generated'}",
        "GANTRY_MARKETPLACE_DATABASE_URL": database_url,
        "GANTRY_MARKETPLACE_GRPC_PORT": str(port),
        "GANTRY_BUS_NAMESPACE": namespace,
        "GANTRY_METRICS_PORT": "0",
        "GANTRY_LOG_LEVEL": "WARNING",
    }
    process = start([sys.executable, "-m", "services.marketplace.api"], env, port)
    stack.callback(lambda: (process.send_signal(signal.SIGTERM), process.wait(20)))
    return f"127.0.0.1:{port}"


def capability_listing(market: Stub, seller: str) -> str:
    listing = market.CreateListing(
        pb.CreateListingRequest(
            tenant_id=seller,
            kind=pb.LISTING_KIND_CAPABILITY,
            title="5-axis milling",
            category="cnc_machining",
            price=PRICE,
            currency="CNY",
            unit=pb.UNIT_PIECE,
            ship_from="CN-32",
        )
    )
    market.ChangeListingStatus(
        pb.ChangeListingStatusRequest(
            tenant_id=seller,
            listing_id=listing.id,
            expected_version=listing.version,
            status=pb.LISTING_STATUS_PUBLISHED,
        )
    )
    return listing.id


def lifecycles(market: Stub, seller: str, buyers: list[str]) -> float:
    """Complete order lifecycles per second, each of seven calls by buyer and seller."""
    listing_id = capability_listing(market, seller)

    def lifecycle(index: int) -> None:
        parties = {"buyer": buyers[index % len(buyers)], "seller": seller}
        order = keyed_call(market, "PlaceOrder", parties["buyer"], listing_id=listing_id, quantity=1)
        keyed_call(market, "FundOrder", parties["buyer"], order_id=order.id)
        for who, state in PROGRESS:
            keyed_call(market, "AdvanceOrder", parties[who], order_id=order.id, state=state)
        completed = keyed_call(market, "CompleteOrder", parties["buyer"], order_id=order.id)
        assert completed.state == pb.ORDER_STATE_COMPLETED, completed

    # Untimed first, so that the process's pools and prepared statements are warm when
    # the clock starts, as they are in a process that has served for a while.
    timed(lifecycle, WARM_UP_LIFECYCLES)
    return timed(lifecycle, LIFECYCLES)


def imbalances(market: Stub) -> list[str]:
    reply = market.CheckLedger(pb.CheckLedgerRequest())
    return [f"{i.currency}: posted {i.posted}, pending {i.pending}" for i in reply.imbalances]


def run() -> dict:
    rng = random.Random(7)
    pairs = [tuple(rng.sample(range(TENANTS), 2)) for _ in range(TRANSFERS)]
    tenants = [str(uuid.uuid4()) for _ in range(TENANTS)]
    with ExitStack() as stack:
        database_url = stack.enter_context(postgres_database())
        topology = stack.enter_context(bus_namespace([]))
        upgrade("marketplace", database_url)
        publisher = ConfirmingPublisher(AMQP_URL, topology)
        stack.callback(publisher.close)
        store = Store("marketplace", metadata, publisher, url=database_url)
        stack.callback(store.close)
        ledger = Ledger(store.unit_of_work)
        for tenant in tenants:
            ledger.deposit(
                Movement("bench", "opening balance", str(uuid.uuid4())), tenant, "CNY", START_BALANCE
            )
        figures: dict[str, float] = {
            "plain_transfers_per_s": round(plain_transfers(database_url, pairs)),
            "ledger_transfers_per_s": round(ledger_transfers(ledger, tenants, pairs)),
        }
        channel = stack.enter_context(
            grpc.insecure_channel(marketplace_api(stack, database_url, topology.namespace))
        )
        market = Stub(channel)
        figures["order_lifecycles_per_s"] = round(lifecycles(market, tenants[0], tenants[1:]), 1)
        unbalanced = imbalances(market)
    if unbalanced:
        raise AssertionError(f"the ledger does not sum to zero: {unbalanced}")
    figures["ratio"] = round(figures["ledger_transfers_per_s"] / figures["plain_transfers_per_s"], 3)
    figures["ledger_balanced"] = 1
    for name, value in figures.items():
        print(f"{name:28} {value}")
    return figures
