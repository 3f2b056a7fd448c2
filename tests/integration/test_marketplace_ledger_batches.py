"""Transfers committed together on SQLite and PostgreSQL: calls that wait while a batch
commits go in the next batch, one transaction for all, and each call still succeeds or
fails on its own; a batch the database refuses is committed again call by call; and
every posted transfer's event reaches the bus through the outbox."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy.exc import OperationalError

from services.kit.bus import ConfirmingPublisher
from services.kit.db import UnitOfWork
from services.kit.events import parse_event
from services.kit.store import Store
from services.marketplace.domain.ledger import AccountKind, InsufficientFunds
from services.marketplace.usecases.idempotency import KeyReused
from services.marketplace.usecases.ledger import Ledger, Leg, Movement
from tests.integration.conftest import CapturedEvents
from tests.support.marketplace import marketplace_store
from tests.support.waiting import eventually

AVAILABLE, ESCROW = AccountKind.AVAILABLE, AccountKind.ESCROW
WAIT_SECONDS = 10


class GatedTransactions:
    """The store's units of work, counted; the first write waits until `open` is set,
    so that the calls arriving meanwhile queue up for one batch."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.open = threading.Event()
        self.entered = threading.Event()
        self.writes = 0

    def __call__(self, read_only: bool = False) -> UnitOfWork:
        if not read_only:
            self.writes += 1
            self.entered.set()
            assert self.open.wait(WAIT_SECONDS), "the gate was never opened"
        return self.store.unit_of_work(read_only=read_only)


@pytest.fixture
def store(database_url: str, publisher: ConfirmingPublisher) -> Iterator[Store]:
    with marketplace_store(database_url, publisher) as opened:
        yield opened


def move(key: str | None = None) -> Movement:
    return Movement("operator", "test", key or str(uuid.uuid4()))


def pay(payer: str, payee: str, amount: int) -> list[Leg]:
    return [Leg((payer, AVAILABLE), (payee, AVAILABLE), amount, "adjustment")]


def spendable(ledger: Ledger, owner: str) -> int:
    return sum(a.spendable for a in ledger.accounts(owner) if a.kind == AVAILABLE)


def queued_behind_a_batch(
    ledger: Ledger, gate: GatedTransactions, calls: list[Callable[[], Any]]
) -> list[Future]:
    """Runs `calls`, queued in turn while a first transfer's batch is held at the gate,
    then opens it."""
    pool = ThreadPoolExecutor(len(calls) + 1)
    first = pool.submit(ledger.deposit, move(), str(uuid.uuid4()), "CNY", 1)
    assert gate.entered.wait(WAIT_SECONDS)
    futures = []
    for call in calls:
        # One at a time, so that they queue in the order given.
        futures.append(pool.submit(call))
        queued = len(futures)
        eventually(lambda n=queued: ledger.queued == n, WAIT_SECONDS, "the call to queue")
    gate.open.set()
    first.result(WAIT_SECONDS)
    pool.shutdown()
    return futures


def test_calls_waiting_together_commit_together_and_fail_alone(store: Store) -> None:
    books = Ledger(store.unit_of_work)
    payer, payee = str(uuid.uuid4()), str(uuid.uuid4())
    books.deposit(move(), payer, "CNY", 100)
    reused = books.deposit(move("reused"), payee, "CNY", 5)
    gate = GatedTransactions(store)
    ledger = Ledger(gate)
    futures = queued_behind_a_batch(
        ledger,
        gate,
        [
            lambda: ledger.transfer(move("pay-60"), "CNY", pay(payer, payee, 60)),
            lambda: ledger.transfer(move(), "CNY", pay(payer, payee, 30)),
            # More than is left after the two above: refused, and nothing of it written.
            lambda: ledger.transfer(move("too-much"), "CNY", pay(payer, payee, 20)),
            lambda: ledger.transfer(move("pay-60"), "CNY", pay(payer, payee, 60)),
            lambda: ledger.deposit(move("reused"), payee, "CNY", 6),
        ],
    )
    paid, also_paid = futures[0].result(), futures[1].result()
    with pytest.raises(InsufficientFunds):
        futures[2].result()
    # The same key again is answered the first call's transfer, not made twice.
    assert futures[3].result() == paid
    with pytest.raises(KeyReused):
        futures[4].result()
    assert reused.amount == 5 and len(also_paid) == 1
    # The first transfer's batch, then the five calls queued behind it, then the call
    # whose key was already in that batch.
    assert gate.writes == 3
    assert spendable(books, payer) == 10 and spendable(books, payee) == 95
    # A refused call leaves its key free.
    books.deposit(move(), payer, "CNY", 10)
    assert books.transfer(move("too-much"), "CNY", pay(payer, payee, 20))[0].amount == 20
    assert books.imbalances() == {}


class FailingFirstCommit(GatedTransactions):
    """As GatedTransactions, and the database fails the first batch of several calls."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.failed = False

    def __call__(self, read_only: bool = False) -> UnitOfWork:
        work = super().__call__(read_only)
        if not read_only and self.writes == 2 and not self.failed:
            self.failed = True
            work.commit = self._refuse  # type: ignore[method-assign]
        return work

    @staticmethod
    def _refuse() -> None:
        raise OperationalError("COMMIT", {}, Exception("the server closed the connection"))


def test_a_batch_the_database_refuses_is_committed_call_by_call(store: Store) -> None:
    books = Ledger(store.unit_of_work)
    payer = str(uuid.uuid4())
    payees = [str(uuid.uuid4()) for _ in range(3)]
    books.deposit(move(), payer, "CNY", 90)
    gate = FailingFirstCommit(store)
    ledger = Ledger(gate)
    futures = queued_behind_a_batch(
        ledger,
        gate,
        [lambda p=payee: ledger.transfer(move(), "CNY", pay(payer, p, 30)) for payee in payees],
    )
    assert [f.result()[0].amount for f in futures] == [30, 30, 30]
    # The first batch, the failed one of three, then each of the three alone.
    assert gate.writes == 5
    assert spendable(books, payer) == 0 and [spendable(books, p) for p in payees] == [30, 30, 30]
    assert books.imbalances() == {}


def test_posted_transfers_reach_the_bus_through_the_outbox(store: Store, captured: CapturedEvents) -> None:
    ledger = Ledger(store.unit_of_work)
    buyer, seller = str(uuid.uuid4()), str(uuid.uuid4())
    deposit = ledger.deposit(move(), buyer, "CNY", 1_000)
    [hold] = ledger.transfer(
        move(), "CNY", [Leg((buyer, AVAILABLE), (buyer, ESCROW), 400, "order_funding", pending=True)]
    )
    post = ledger.resolve(move(), hold.id, post=True)
    release = ledger.transfer(
        move(), "CNY", [Leg((buyer, ESCROW), (seller, AVAILABLE), 400, "order_release")]
    )
    # A resolution is published as it commits; transfers made in batches wait for the relay.
    assert store.relay.relay_pending(min_age=timedelta(0)) == 2
    events = [parse_event(orjson.loads(body)) for _, body in captured.drain()]
    assert {e.type for e in events} == {"ledger.transfer_posted"}
    posted = {e.data["transfer_id"]: (e.data["kind"], e.data["amount"]) for e in events}
    # The hold moves nothing for good: it is not announced.
    assert posted == {
        deposit.id: ("single", 1_000),
        post.id: ("post", 400),
        release[0].id: ("single", 400),
    }
    assert store.relay.relay_pending(min_age=timedelta(0)) == 0
