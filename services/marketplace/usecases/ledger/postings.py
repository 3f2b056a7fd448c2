"""Postings: money moved inside a transaction, the caller's or a batch's. Accounts are
locked in the order of their ids, checked (never overdrawn, never overflowing) and saved,
and the transfers appended; a failure leaves the caller's transaction to roll back.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from services.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from services.kit.events import Event, new_event
from services.kit.validation import require_uuid
from services.marketplace.domain.ledger import (
    PLATFORM,
    Account,
    AccountKind,
    Transfer,
    TransferKind,
    apply,
    require_amount,
)
from services.marketplace.queries import ledger as queries
from services.marketplace.queries.ledger import AccountRef

MAX_LEGS = 16

MAX_REASON = 500

CODES = frozenset(
    {"deposit", "withdrawal", "order_funding", "order_release", "platform_fee", "order_refund", "adjustment"}
)


@dataclass(frozen=True)
class Leg:
    """One transfer of a linked batch: from the debit account to the credit account."""

    debit: tuple[str, AccountKind]
    credit: tuple[str, AccountKind]
    amount: int
    code: str
    pending: bool = False


@dataclass(frozen=True)
class Movement:
    """Who moves money, why, and under which idempotency key."""

    actor: str
    reason: str
    idempotency_key: str
    order_id: str | None = None


def move_money(
    connection: Connection, movement: Movement, currency: str, legs: Sequence[Leg], now: datetime
) -> list[Transfer]:
    """Makes every leg or none, inside the caller's transaction (which a failure must roll
    back): the accounts are locked, checked and saved, the transfers appended."""
    refs = [ref for leg in legs for ref in ((*leg.debit, currency), (*leg.credit, currency))]
    made, changed = planned(queries.locked_accounts(connection, refs, now), movement, currency, legs, now)
    queries.save_moves(connection, list(changed.values()), made)
    return made


def planned(
    accounts: Mapping[AccountRef, Account],
    movement: Movement,
    currency: str,
    legs: Sequence[Leg],
    now: datetime,
) -> tuple[list[Transfer], dict[AccountRef, Account]]:
    """The transfers of `legs` and the accounts as they leave them, `accounts` untouched;
    InsufficientFunds (or InvalidArgument on overflow) if any leg cannot be made."""
    batch_id = str(uuid.uuid4()) if len(legs) > 1 else None
    changed: dict[AccountRef, Account] = {}
    made = []
    for leg in legs:
        debit_ref, credit_ref = (*leg.debit, currency), (*leg.credit, currency)
        kind = TransferKind.PENDING if leg.pending else TransferKind.SINGLE
        transfer = Transfer(
            str(uuid.uuid4()),
            kind,
            accounts[debit_ref].id,
            accounts[credit_ref].id,
            leg.amount,
            currency,
            leg.code,
            movement.reason,
            movement.actor,
            now,
            batch_id=batch_id,
            order_id=movement.order_id,
        )
        debit = changed.get(debit_ref, accounts[debit_ref])
        credit = changed.get(credit_ref, accounts[credit_ref])
        changed[debit_ref], changed[credit_ref] = apply(transfer, debit, credit)
        made.append(transfer)
    return made, changed


def resolve_pending(
    connection: Connection, movement: Movement, pending_id: str, post: bool, amount: int | None, now: datetime
) -> Transfer:
    """Posts or voids a pending transfer inside the caller's transaction."""
    pending = queries.find_transfer(connection, pending_id)
    if pending is None or pending.kind != TransferKind.PENDING:
        raise NotFound("no such pending transfer")
    accounts = queries.locked_accounts_by_id(
        connection, [pending.debit_account_id, pending.credit_account_id]
    )
    # Checked under the accounts' locks, so that two resolutions cannot both pass.
    if queries.resolution_of(connection, pending_id) is not None:
        raise FailedPrecondition("the pending transfer was already posted or voided")
    kind = TransferKind.POST if post else TransferKind.VOID
    transfer = Transfer(
        str(uuid.uuid4()),
        kind,
        pending.debit_account_id,
        pending.credit_account_id,
        amount if post and amount is not None else pending.amount,
        pending.currency,
        pending.code,
        movement.reason,
        movement.actor,
        now,
        pending_id=pending_id,
        order_id=pending.order_id,
    )
    debit, credit = apply(
        transfer, accounts[pending.debit_account_id], accounts[pending.credit_account_id], pending
    )
    queries.save_moves(connection, [debit, credit], [transfer])
    return transfer


def release_escrow(
    connection: Connection,
    movement: Movement,
    pending_id: str,
    currency: str,
    payouts: Sequence[Leg],
    now: datetime,
) -> list[Transfer]:
    """Posts a pending transfer (an escrow) in full and pays it out by `payouts` (those of
    no amount skipped), inside the caller's transaction; the transfers posted."""
    # Every account the release touches, locked at once in the ledger's order before any
    # is locked alone: a later, narrower lock must never reach back for a lower id.
    queries.locked_accounts(
        connection, {(*side, currency) for leg in payouts for side in (leg.debit, leg.credit)}, now
    )
    posted = [resolve_pending(connection, movement, pending_id, True, None, now)]
    return posted + move_money(
        connection, movement, currency, [leg for leg in payouts if leg.amount > 0], now
    )


def posted_event(transfer: Transfer) -> Event:
    data = {
        "transfer_id": transfer.id,
        "kind": transfer.kind.value,
        "code": transfer.code,
        "currency": transfer.currency,
        "amount": transfer.amount,
        "order_id": transfer.order_id,
    }
    return new_event("ledger.transfer_posted", None, data)


def posts(transfer: Transfer) -> bool:
    """A transfer that moves money for good, announced: not a hold, nor its void."""
    return transfer.kind in (TransferKind.SINGLE, TransferKind.POST)


def require_movement(movement: Movement) -> None:
    if not movement.actor or len(movement.actor) > 64:
        raise InvalidArgument([FieldViolation("actor", "1 to 64 characters")])
    if not 0 < len(movement.reason) <= MAX_REASON or not movement.reason.isprintable():
        raise InvalidArgument([FieldViolation("reason", f"1 to {MAX_REASON} printable characters")])
    if movement.order_id is not None:
        require_uuid(movement.order_id, "order_id")


def require_legs(legs: Sequence[Leg]) -> None:
    if not 0 < len(legs) <= MAX_LEGS:
        raise InvalidArgument([FieldViolation("legs", f"1 to {MAX_LEGS} transfers")])
    for index, leg in enumerate(legs):
        require_amount(leg.amount, f"legs[{index}].amount")
        if leg.code not in CODES:
            raise InvalidArgument(
                [FieldViolation(f"legs[{index}].code", f"one of {', '.join(sorted(CODES))}")]
            )
        if leg.debit == leg.credit:
            raise InvalidArgument(
                [FieldViolation(f"legs[{index}].credit", "must differ from the debit account")]
            )
        for side, (owner, kind) in (("debit", leg.debit), ("credit", leg.credit)):
            _require_owner(owner, kind, f"legs[{index}].{side}")


def _require_owner(owner: str, kind: AccountKind, field: str) -> None:
    """Tenants hold available and escrow accounts; the platform its fee revenue and the external account."""
    if kind in (AccountKind.FEE_REVENUE, AccountKind.EXTERNAL):
        if owner != PLATFORM:
            raise InvalidArgument([FieldViolation(field, f"a {kind} account is the platform's")])
    else:
        require_uuid(owner, field)
