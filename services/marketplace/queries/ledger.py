"""The ledger's SQL: accounts locked in one order, totals saved, transfers appended.

On PostgreSQL the statements of every transfer (the lock, the saving) go straight to
the driver taking binary arrays, one statement whatever the number of accounts or
transfers: no per-row executemany, whose pipeline spins the CPU while it waits for the
server. They are planned at each execution, not prepared: a statement joining a table
with arrays, prepared while the table was small, keeps a plan that scans the table whole
as it grows (`record`'s update went from 0.45 to 2 ms within ten thousand rows)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, func, insert, or_, select, tuple_, update

from services.kit.db import driver_connection, insert_ignoring_duplicates, outbox_row
from services.kit.events import Event
from services.marketplace.domain.ledger import Account, AccountKind, Transfer, TransferKind
from services.marketplace.storage import ledger_accounts as accounts
from services.marketplace.storage import ledger_transfers as transfers
from services.marketplace.storage import metadata

AccountRef = tuple[str, AccountKind, str]
"""(owner, kind, currency): an account is opened the first time it is named."""

Announced = tuple[Event, str]
"""An event to put in the outbox, and the id of the request it comes from."""

_TOTALS = ("debits_posted", "credits_posted", "debits_pending", "credits_pending")
_ACCOUNT_COLUMNS = ("id", "owner", "kind", "currency", *_TOTALS)
_TRANSFER_COLUMNS = tuple(f.name for f in fields(Transfer))

_LOCK_PG = f"""
SELECT {", ".join(_ACCOUNT_COLUMNS)} FROM ledger_accounts
WHERE (owner, kind, currency) IN (
    SELECT * FROM unnest(%(owners)b::text[], %(kinds)b::text[], %(currencies)b::text[]))
ORDER BY id FOR UPDATE"""

_TYPES = {"amount": "bigint", "created_at": "timestamptz"}
_SAVE_PG = f"""
WITH totals AS (
    UPDATE ledger_accounts AS a SET {", ".join(f"{n} = t.{n}" for n in _TOTALS)}
    FROM unnest(%(id)b::text[], {", ".join(f"%({n})b::bigint[]" for n in _TOTALS)})
        AS t(id, {", ".join(_TOTALS)})
    WHERE a.id = t.id
), appended AS (
    INSERT INTO ledger_transfers ({", ".join(_TRANSFER_COLUMNS)})
    SELECT * FROM unnest({", ".join(f"%(transfer_{n})b::{_TYPES.get(n, 'text')}[]" for n in _TRANSFER_COLUMNS)})
)
INSERT INTO outbox (id, type, body, request_id, created_at)
SELECT id, type, body::json, request_id, created_at FROM unnest(
    %(event_id)b::text[], %(event_type)b::text[], %(event_body)b::text[], %(event_request_id)b::text[],
    %(event_created_at)b::timestamptz[]) AS e(id, type, body, request_id, created_at)"""


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
    if connection.dialect.name == "postgresql":
        params = {
            "owners": [owner for owner, _, _ in wanted],
            "kinds": [kind.value for _, kind, _ in wanted],
            "currencies": [currency for _, _, currency in wanted],
        }
        rows = driver_connection(connection).execute(_LOCK_PG, params, prepare=False)
        found = (Account(*row[:2], AccountKind(row[2]), *row[3:]) for row in rows)
        return {(a.owner, a.kind, a.currency): a for a in found}
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


def save_moves(
    connection: Connection,
    changed: Sequence[Account],
    made: Sequence[Transfer],
    announced: Sequence[Announced] = (),
) -> None:
    """Saves the accounts' new totals, appends the transfers that led to them and puts
    the events announcing them in the outbox, where the relay finds them."""
    rows = [outbox_row(event, request_id) for event, request_id in announced]
    if connection.dialect.name == "postgresql":
        params: dict[str, Any] = {name: [getattr(a, name) for a in changed] for name in ("id", *_TOTALS)}
        for name in _TRANSFER_COLUMNS:
            params[f"transfer_{name}"] = [getattr(t, name) for t in made]
        params["transfer_kind"] = [t.kind.value for t in made]
        for name in ("id", "type", "request_id", "created_at"):
            params[f"event_{name}"] = [row[name] for row in rows]
        params["event_body"] = [orjson.dumps(row["body"]).decode() for row in rows]
        driver_connection(connection).execute(_SAVE_PG, params, prepare=False)
        return
    statement = (
        update(accounts)
        .where(accounts.c.id == bindparam("account_id"))
        .values({name: bindparam(name) for name in _TOTALS})
    )
    connection.execute(
        statement, [{"account_id": a.id, **{n: getattr(a, n) for n in _TOTALS}} for a in changed]
    )
    connection.execute(insert(transfers), [{**vars(t), "kind": t.kind.value} for t in made])
    if rows:
        connection.execute(insert(metadata.tables["outbox"]), rows)


def find_transfer(connection: Connection, transfer_id: str) -> Transfer | None:
    row = connection.execute(select(transfers).where(transfers.c.id == transfer_id)).first()
    return _transfer(row) if row else None


def resolution_of(connection: Connection, pending_id: str) -> Transfer | None:
    row = connection.execute(select(transfers).where(transfers.c.pending_id == pending_id)).first()
    return _transfer(row) if row else None


def owned_accounts(connection: Connection, owner: str) -> list[Account]:
    query = select(accounts).where(accounts.c.owner == owner).order_by(accounts.c.currency, accounts.c.kind)
    return [_account(row) for row in connection.execute(query)]


def owned_account(connection: Connection, owner: str, account_id: str) -> Account | None:
    query = select(accounts).where(accounts.c.id == account_id, accounts.c.owner == owner)
    row = connection.execute(query).first()
    return _account(row) if row else None


def transfers_of(
    connection: Connection, account_id: str, after: tuple[datetime, str] | None, limit: int
) -> list[Transfer]:
    """The transfers debiting or crediting an account, newest first: each side read by its
    own index (account, created_at), the two merged."""
    query = select(transfers).where(
        or_(transfers.c.debit_account_id == account_id, transfers.c.credit_account_id == account_id)
    )
    if after is not None:
        query = query.where(tuple_(transfers.c.created_at, transfers.c.id) < tuple_(*after))
    query = query.order_by(transfers.c.created_at.desc(), transfers.c.id.desc()).limit(limit)
    return [_transfer(row) for row in connection.execute(query)]


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
