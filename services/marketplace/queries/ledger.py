"""The ledger's SQL: accounts locked in one order, totals saved, transfers appended."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime

from sqlalchemy import Connection, bindparam, func, insert, select, tuple_, update

from services.kit.db import insert_ignoring_duplicates
from services.marketplace.domain.ledger import Account, AccountKind, Transfer, TransferKind
from services.marketplace.storage import ledger_accounts as accounts
from services.marketplace.storage import ledger_transfers as transfers

AccountRef = tuple[str, AccountKind, str]
"""(owner, kind, currency): an account is opened the first time it is named."""

_TOTALS = ("debits_posted", "credits_posted", "debits_pending", "credits_pending")


def _account(row: object) -> Account:
    mapping = row._mapping  # type: ignore[attr-defined]
    return Account(
        **{
            **{k: mapping[k] for k in ("id", "owner", "currency", *_TOTALS)},
            "kind": AccountKind(mapping["kind"]),
        }
    )


def locked_accounts(
    connection: Connection, refs: Iterable[AccountRef], now: datetime
) -> dict[AccountRef, Account]:
    """The accounts named, opened when new and locked until the transaction ends, all in
    one statement in the order of their ids, so that two transfers never wait for each
    other: a transaction never locks an account after one with a higher id."""
    wanted = sorted(set(refs))
    database = connection.engine.url.render_as_string()
    unknown = [ref for ref in wanted if (database, ref) not in _KNOWN]
    if unknown:
        _open(connection, unknown, now)
    found = _lock(connection, wanted)
    if connection.dialect.name != "sqlite":
        # Opened in committed transactions there, so they exist whatever happens next.
        _KNOWN.update((database, ref) for ref in found)
    return found


# Accounts known to exist, by database: accounts are never deleted, so a lock of known
# accounts needs no look first.
_KNOWN: set[tuple[str, AccountRef]] = set()


def _open(connection: Connection, refs: list[AccountRef], now: datetime) -> None:
    """Opens the accounts that do not exist, in a transaction of their own committed at
    once: an empty account is harmless if the caller's transaction rolls back. SQLite has
    one writer at a time, so there they are opened in the caller's transaction."""
    rows = [
        {
            "id": str(uuid.uuid4()),
            "owner": owner,
            "kind": kind.value,
            "currency": currency,
            **dict.fromkeys(_TOTALS, 0),
            "created_at": now,
        }
        for owner, kind, currency in refs
    ]
    if connection.dialect.name == "sqlite":
        insert_ignoring_duplicates(connection, accounts, rows)
        return
    with connection.engine.begin() as opening:
        insert_ignoring_duplicates(opening, accounts, rows)


def _lock(connection: Connection, wanted: list[AccountRef]) -> dict[AccountRef, Account]:
    keys = tuple_(accounts.c.owner, accounts.c.kind, accounts.c.currency)
    query = (
        select(accounts)
        .where(keys.in_([(owner, kind.value, currency) for owner, kind, currency in wanted]))
        .order_by(accounts.c.id)
        .with_for_update()
    )
    return {(a.owner, a.kind, a.currency): a for a in (_account(row) for row in connection.execute(query))}


def locked_accounts_by_id(connection: Connection, ids: Iterable[str]) -> dict[str, Account]:
    query = (
        select(accounts).where(accounts.c.id.in_(sorted(set(ids)))).order_by(accounts.c.id).with_for_update()
    )
    return {a.id: a for a in (_account(row) for row in connection.execute(query))}


def save_totals(connection: Connection, changed: Sequence[Account]) -> None:
    statement = (
        update(accounts)
        .where(accounts.c.id == bindparam("account_id"))
        .values({name: bindparam(name) for name in _TOTALS})
    )
    connection.execute(
        statement, [{"account_id": a.id, **{n: getattr(a, n) for n in _TOTALS}} for a in changed]
    )


def add_transfers(connection: Connection, made: Sequence[Transfer]) -> None:
    connection.execute(insert(transfers), [{**asdict(t), "kind": t.kind.value} for t in made])


def find_transfer(connection: Connection, transfer_id: str) -> Transfer | None:
    row = connection.execute(select(transfers).where(transfers.c.id == transfer_id)).first()
    return _transfer(row) if row else None


def resolution_of(connection: Connection, pending_id: str) -> Transfer | None:
    row = connection.execute(select(transfers).where(transfers.c.pending_id == pending_id)).first()
    return _transfer(row) if row else None


def owned_accounts(connection: Connection, owner: str) -> list[Account]:
    query = select(accounts).where(accounts.c.owner == owner).order_by(accounts.c.currency, accounts.c.kind)
    return [_account(row) for row in connection.execute(query)]


def net_by_currency(connection: Connection) -> dict[str, tuple[int, int]]:
    """Per currency, all debits less all credits, posted and pending: (0, 0) when balanced."""
    query = select(
        accounts.c.currency,
        func.sum(accounts.c.debits_posted - accounts.c.credits_posted),
        func.sum(accounts.c.debits_pending - accounts.c.credits_pending),
    ).group_by(accounts.c.currency)
    return {currency: (int(posted), int(pending)) for currency, posted, pending in connection.execute(query)}


def _transfer(row: object) -> Transfer:
    mapping = dict(row._mapping)  # type: ignore[attr-defined]
    return Transfer(**{**mapping, "kind": TransferKind(mapping["kind"])})
