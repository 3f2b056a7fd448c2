"""The ledger on SQLite and PostgreSQL: exact balances, nothing created or lost, each
money-moving call once per idempotency key, even under concurrency."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from services.kit.bus import ConfirmingPublisher
from services.kit.errors import FailedPrecondition, InvalidArgument, NotFound
from services.kit.store import Store
from services.marketplace.domain.ledger import MAX_AMOUNT, PLATFORM, AccountKind, InsufficientFunds
from services.marketplace.storage import ledger_accounts, ledger_transfers
from services.marketplace.usecases.idempotency import KEEP, KeyReused, forget_expired
from services.marketplace.usecases.ledger import Ledger, Leg, Movement
from tests.support.backends import postgres_database
from tests.support.marketplace import marketplace_store
from tests.support.platform import ROOT

AVAILABLE, ESCROW = AccountKind.AVAILABLE, AccountKind.ESCROW


@pytest.fixture
def ledger(database_url: str, publisher: ConfirmingPublisher) -> Iterator[Ledger]:
    with marketplace_store(database_url, publisher) as store:
        yield Ledger(store.unit_of_work)


def move(key: str | None = None, actor: str = "operator") -> Movement:
    return Movement(actor, "test", key or str(uuid.uuid4()))


def balances(ledger: Ledger, owner: str) -> dict[str, int]:
    return {f"{a.kind}/{a.currency}": a.spendable for a in ledger.accounts(owner)}


def funded(ledger: Ledger, amount: int = 10_000) -> str:
    tenant = str(uuid.uuid4())
    ledger.deposit(move(), tenant, "CNY", amount)
    return tenant


def test_escrow_is_held_then_released_less_the_fee(ledger: Ledger) -> None:
    buyer, seller = funded(ledger), str(uuid.uuid4())
    [hold] = ledger.transfer(
        move(), "CNY", [Leg((buyer, AVAILABLE), (buyer, ESCROW), 8_000, "order_funding", pending=True)]
    )
    assert balances(ledger, buyer) == {"available/CNY": 2_000, "escrow/CNY": 0}
    ledger.resolve(move(), hold.id, post=True)
    ledger.transfer(
        move(),
        "CNY",
        [
            Leg((buyer, ESCROW), (seller, AVAILABLE), 7_600, "order_release"),
            Leg((buyer, ESCROW), (PLATFORM, AccountKind.FEE_REVENUE), 400, "platform_fee"),
        ],
    )
    assert balances(ledger, buyer) == {"available/CNY": 2_000, "escrow/CNY": 0}
    assert balances(ledger, seller) == {"available/CNY": 7_600}
    assert balances(ledger, PLATFORM)["fee_revenue/CNY"] == 400
    assert ledger.imbalances() == {}


def test_a_voided_hold_returns_everything_and_resolves_once(ledger: Ledger) -> None:
    buyer = funded(ledger)
    [hold] = ledger.transfer(
        move(), "CNY", [Leg((buyer, AVAILABLE), (buyer, ESCROW), 10_000, "order_funding", pending=True)]
    )
    with pytest.raises(InsufficientFunds):
        ledger.withdraw(move(), buyer, "CNY", 1)
    ledger.resolve(move(), hold.id, post=False)
    with pytest.raises(FailedPrecondition):
        ledger.resolve(move(), hold.id, post=True)
    assert balances(ledger, buyer) == {"available/CNY": 10_000, "escrow/CNY": 0}
    assert ledger.imbalances() == {}


def test_a_partial_post_releases_the_rest(ledger: Ledger) -> None:
    buyer = funded(ledger)
    [hold] = ledger.transfer(
        move(), "CNY", [Leg((buyer, AVAILABLE), (buyer, ESCROW), 6_000, "order_funding", pending=True)]
    )
    with pytest.raises(InvalidArgument):
        ledger.resolve(move(), hold.id, post=True, amount=6_001)
    ledger.resolve(move(), hold.id, post=True, amount=2_500)
    assert balances(ledger, buyer) == {"available/CNY": 7_500, "escrow/CNY": 2_500}
    with pytest.raises(NotFound):
        ledger.resolve(move(), str(uuid.uuid4()), post=True)


def test_linked_transfers_are_all_or_none(ledger: Ledger) -> None:
    payer, payee = funded(ledger, 1_000), str(uuid.uuid4())
    legs = [
        Leg((payer, AVAILABLE), (payee, AVAILABLE), 900, "adjustment"),
        Leg((payer, AVAILABLE), (payee, AVAILABLE), 200, "adjustment"),
    ]
    with pytest.raises(InsufficientFunds):
        ledger.transfer(move(), "CNY", legs)
    assert balances(ledger, payer) == {"available/CNY": 1_000}
    # At most opened, empty.
    assert balances(ledger, payee) in ({}, {"available/CNY": 0})
    assert ledger.imbalances() == {}


def test_the_same_key_answers_the_same_transfer_and_another_request_is_refused(ledger: Ledger) -> None:
    tenant = str(uuid.uuid4())
    first = ledger.deposit(move("dep-1"), tenant, "USD", 500)
    again = ledger.deposit(move("dep-1"), tenant, "USD", 500)
    assert again == first
    with pytest.raises(KeyReused):
        ledger.deposit(move("dep-1"), tenant, "USD", 501)
    assert balances(ledger, tenant) == {"available/USD": 500}
    # A failed call leaves its key free: the retry runs.
    with pytest.raises(InsufficientFunds):
        ledger.withdraw(move("wd-1"), tenant, "USD", 600)
    ledger.deposit(move(), tenant, "USD", 100)
    assert ledger.withdraw(move("wd-1"), tenant, "USD", 600).amount == 600


@pytest.mark.parametrize(
    "call",
    [
        lambda books, t: books.deposit(move(), t, "CNY", 0),
        lambda books, t: books.deposit(move(), t, "CNY", -5),
        lambda books, t: books.deposit(move(), t, "CNY", MAX_AMOUNT + 1),
        lambda books, t: books.deposit(move(), t, "GBP", 5),
        lambda books, t: books.deposit(move(), t, "cny", 5),
        lambda books, t: books.deposit(move(), "not-a-tenant", "CNY", 5),
        lambda books, t: books.deposit(Movement("operator", "", "k"), t, "CNY", 5),
        lambda books, t: books.deposit(Movement("operator", "x" * 501, "k"), t, "CNY", 5),
        lambda books, t: books.deposit(Movement("operator", "why", "a key"), t, "CNY", 5),
        lambda books, t: books.transfer(
            move(), "CNY", [Leg((t, AVAILABLE), (t, AVAILABLE), 5, "adjustment")]
        ),
        lambda books, t: books.transfer(
            move(), "CNY", [Leg((t, AVAILABLE), (t, AccountKind.FEE_REVENUE), 5, "adjustment")]
        ),
        lambda books, t: books.transfer(
            move(), "CNY", [Leg((t, AVAILABLE), (PLATFORM, ESCROW), 5, "adjustment")]
        ),
        lambda books, t: books.transfer(
            move(), "CNY", [Leg((t, AVAILABLE), (str(uuid.uuid4()), AVAILABLE), 5, "gift")]
        ),
        lambda books, t: books.transfer(move(), "CNY", []),
    ],
)
def test_hostile_input_is_refused_and_writes_nothing(ledger: Ledger, call: object) -> None:
    tenant = funded(ledger, 100)
    before = balances(ledger, tenant)
    with pytest.raises(InvalidArgument):
        call(ledger, tenant)  # type: ignore[operator]
    assert balances(ledger, tenant) == before
    assert ledger.imbalances() == {}


def test_totals_that_would_overflow_are_refused(ledger: Ledger) -> None:
    tenant = funded(ledger, MAX_AMOUNT)
    with pytest.raises(InvalidArgument):
        ledger.deposit(move(), tenant, "CNY", 1)
    assert balances(ledger, tenant) == {"available/CNY": MAX_AMOUNT}


@pytest.fixture
def postgres_ledger(publisher: ConfirmingPublisher) -> Iterator[tuple[Ledger, Store]]:
    with postgres_database() as url, marketplace_store(url, publisher) as store:
        yield Ledger(store.unit_of_work), store


def test_racing_spenders_never_overdraw(postgres_ledger: tuple[Ledger, Store]) -> None:
    ledger, _ = postgres_ledger
    tenant = funded(ledger, 100)

    def spend(_: int) -> bool:
        try:
            ledger.withdraw(move(), tenant, "CNY", 10)
            return True
        except InsufficientFunds:
            return False

    with ThreadPoolExecutor(12) as pool:
        outcomes = list(pool.map(spend, range(30)))
    assert outcomes.count(True) == 10
    assert balances(ledger, tenant) == {"available/CNY": 0}
    assert ledger.imbalances() == {}


def test_concurrent_retries_with_one_key_have_one_effect(postgres_ledger: tuple[Ledger, Store]) -> None:
    ledger, store = postgres_ledger
    tenant = str(uuid.uuid4())
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: ledger.deposit(move("same-key"), tenant, "EUR", 250), range(8)))
    assert len({answer.id for answer in answers}) == 1
    assert balances(ledger, tenant) == {"available/EUR": 250}
    with store.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(ledger_transfers)).scalar_one() == 1


def test_the_check_command_reports_balance_and_catches_tampering(
    postgres_ledger: tuple[Ledger, Store],
) -> None:
    ledger, store = postgres_ledger
    tenant = funded(ledger, 700)
    ledger.withdraw(move(), tenant, "CNY", 200)
    checked = check_command(str(store.engine.url.render_as_string(hide_password=False)))
    assert (
        checked.returncode == 0 and "CNY: debits less credits posted 0, pending 0: balanced" in checked.stdout
    )
    with store.engine.begin() as connection:
        connection.execute(
            update(ledger_accounts).values(credits_posted=ledger_accounts.c.credits_posted + 1)
        )
    tampered = check_command(str(store.engine.url.render_as_string(hide_password=False)))
    assert tampered.returncode == 1 and "IMBALANCED" in tampered.stdout


def check_command(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'generated'}",
        "GANTRY_MARKETPLACE_DATABASE_URL": database_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "services.marketplace.check_ledger"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_idempotency_records_are_forgotten_after_they_are_kept(
    database_url: str, publisher: ConfirmingPublisher
) -> None:
    long_ago = datetime.now(UTC) - KEEP - timedelta(minutes=1)
    with marketplace_store(database_url, publisher) as store:
        ledger = Ledger(store.unit_of_work, clock=lambda: long_ago)
        tenant = str(uuid.uuid4())
        ledger.deposit(move("old-key"), tenant, "CNY", 10)
        assert forget_expired(store.unit_of_work, datetime.now(UTC)) == 1
        ledger.deposit(move("old-key"), tenant, "CNY", 10)
        assert balances(ledger, tenant) == {"available/CNY": 20}
