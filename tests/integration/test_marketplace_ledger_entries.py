"""An account's ledger entries on SQLite and PostgreSQL: every transfer debiting or
crediting it, newest first, a page at a time by a keyset cursor; another owner's account
is not found, whatever its id."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from services.kit.bus import ConfirmingPublisher
from services.kit.errors import InvalidArgument, NotFound
from services.marketplace.domain.ledger import PLATFORM, AccountKind, Transfer
from services.marketplace.usecases.ledger import Ledger, Leg, Movement
from tests.support.marketplace import marketplace_store


@pytest.fixture
def ledger(database_url: str, publisher: ConfirmingPublisher) -> Iterator[Ledger]:
    with marketplace_store(database_url, publisher) as store:
        yield Ledger(store.unit_of_work)


def move() -> Movement:
    return Movement("operator", "test", str(uuid.uuid4()))


def account_id(ledger: Ledger, owner: str, kind: AccountKind) -> str:
    return next(account.id for account in ledger.accounts(owner) if account.kind == kind)


def every_page(ledger: Ledger, owner: str, account: str, size: int) -> list[Transfer]:
    found, cursor = ledger.transfers(owner, account, size, "")
    while cursor:
        more, cursor = ledger.transfers(owner, account, size, cursor)
        found += more
    return found


def test_an_accounts_transfers_newest_first_page_by_page(ledger: Ledger) -> None:
    buyer, seller = str(uuid.uuid4()), str(uuid.uuid4())
    deposits = [ledger.deposit(move(), buyer, "CNY", 1_000 * n) for n in range(1, 6)]
    [paid] = ledger.transfer(
        move(),
        "CNY",
        [Leg((buyer, AccountKind.AVAILABLE), (seller, AccountKind.AVAILABLE), 700, "adjustment")],
    )
    available = account_id(ledger, buyer, AccountKind.AVAILABLE)
    listed = every_page(ledger, buyer, available, 2)
    assert [t.id for t in listed] == [t.id for t in reversed([*deposits, paid])]
    assert [t.amount for t in listed] == [700, 5_000, 4_000, 3_000, 2_000, 1_000]
    # The seller's account holds the one transfer that credited it.
    assert [
        t.id for t in every_page(ledger, seller, account_id(ledger, seller, AccountKind.AVAILABLE), 50)
    ] == [paid.id]
    # The platform's external account, the operator's to read, was debited by each deposit.
    external = account_id(ledger, PLATFORM, AccountKind.EXTERNAL)
    assert {t.id for t in deposits} <= {t.id for t in every_page(ledger, PLATFORM, external, 50)}


def test_another_owners_account_is_not_found(ledger: Ledger) -> None:
    owner = str(uuid.uuid4())
    ledger.deposit(move(), owner, "CNY", 100)
    account = account_id(ledger, owner, AccountKind.AVAILABLE)
    with pytest.raises(NotFound):
        ledger.transfers(str(uuid.uuid4()), account, 10, "")
    with pytest.raises(NotFound):
        ledger.transfers(owner, str(uuid.uuid4()), 10, "")


@pytest.mark.parametrize(
    ("account", "cursor", "field"), [("nope", "", "account_id"), (None, "forged", "page.cursor")]
)
def test_a_wrong_account_id_or_cursor_is_named(
    ledger: Ledger, account: str | None, cursor: str, field: str
) -> None:
    owner = str(uuid.uuid4())
    ledger.deposit(move(), owner, "CNY", 100)
    with pytest.raises(InvalidArgument) as refused:
        ledger.transfers(owner, account or account_id(ledger, owner, AccountKind.AVAILABLE), 10, cursor)
    assert [v.field for v in refused.value.violations] == [field]
