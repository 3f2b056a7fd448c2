"""Use cases of the ledger: deposits and withdrawals, linked transfers (all or none),
two-phase transfers posted or voided later, balances and the zero-sum check."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from services.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from services.kit.validation import require_uuid
from services.marketplace.domain.ledger import (
    PLATFORM,
    Account,
    AccountKind,
    Transfer,
    TransferKind,
    apply,
    require_amount,
    require_currency,
)
from services.marketplace.queries import ledger as queries
from services.marketplace.usecases import Clock, UnitOfWorkFactory, utc_now
from services.marketplace.usecases.idempotency import once

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


class Ledger:
    def __init__(self, unit_of_work: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock

    def deposit(self, movement: Movement, tenant_id: str, currency: str, amount: int) -> Transfer:
        """Money entering the platform for a tenant (recorded by an operator)."""
        leg = Leg(
            (PLATFORM, AccountKind.EXTERNAL),
            (require_uuid(tenant_id, "tenant_id"), AccountKind.AVAILABLE),
            amount,
            "deposit",
        )
        return self.transfer(movement, currency, [leg])[0]

    def withdraw(self, movement: Movement, tenant_id: str, currency: str, amount: int) -> Transfer:
        leg = Leg(
            (require_uuid(tenant_id, "tenant_id"), AccountKind.AVAILABLE),
            (PLATFORM, AccountKind.EXTERNAL),
            amount,
            "withdrawal",
        )
        return self.transfer(movement, currency, [leg])[0]

    def transfer(self, movement: Movement, currency: str, legs: Sequence[Leg]) -> list[Transfer]:
        """Makes every leg or none, in one currency, once per idempotency key."""
        currency = require_currency(currency)
        _require_movement(movement)
        _require_legs(legs)
        request = {
            "op": "transfer",
            "currency": currency,
            "legs": [_leg_request(leg) for leg in legs],
            "order_id": movement.order_id,
        }

        def run(connection: Connection, now: datetime) -> list[Transfer]:
            return move_money(connection, movement, currency, legs, now)

        return self._once(movement, request, run)

    def resolve(self, movement: Movement, pending_id: str, post: bool, amount: int | None = None) -> Transfer:
        """Posts (in full, or `amount` of it) or voids a pending transfer, once."""
        pending_id = require_uuid(pending_id, "pending_id")
        _require_movement(movement)
        if amount is not None:
            require_amount(amount)
        request = {"op": "post" if post else "void", "pending_id": pending_id, "amount": amount}

        def run(connection: Connection, now: datetime) -> list[Transfer]:
            return [resolve_pending(connection, movement, pending_id, post, amount, now)]

        return self._once(movement, request, run)[0]

    def _once(
        self,
        movement: Movement,
        request: dict[str, Any],
        run: Callable[[Connection, datetime], list[Transfer]],
    ) -> list[Transfer]:
        """`run` in one transaction, once per idempotency key of the actor."""
        now = self._clock()
        with self._unit_of_work() as uow:
            made, ran = once(
                uow.connection,
                movement.actor,
                movement.idempotency_key,
                request,
                now,
                lambda: run(uow.connection, now),
                _encode_transfers,
                _decode_transfers,
            )
            if ran:
                uow.commit()
        return made

    def accounts(self, owner: str) -> list[Account]:
        with self._unit_of_work(read_only=True) as uow:
            return queries.owned_accounts(uow.connection, owner)

    def imbalances(self) -> dict[str, tuple[int, int]]:
        """Every currency whose debits and credits (posted, pending) do not sum to zero."""
        with self._unit_of_work(read_only=True) as uow:
            sums = queries.net_by_currency(uow.connection)
        return {currency: net for currency, net in sums.items() if net != (0, 0)}


def _require_movement(movement: Movement) -> None:
    if not movement.actor or len(movement.actor) > 64:
        raise InvalidArgument([FieldViolation("actor", "1 to 64 characters")])
    if not 0 < len(movement.reason) <= MAX_REASON or not movement.reason.isprintable():
        raise InvalidArgument([FieldViolation("reason", f"1 to {MAX_REASON} printable characters")])
    if movement.order_id is not None:
        require_uuid(movement.order_id, "order_id")


def _require_legs(legs: Sequence[Leg]) -> None:
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


def _leg_request(leg: Leg) -> dict[str, Any]:
    return {
        "debit": list(leg.debit),
        "credit": list(leg.credit),
        "amount": leg.amount,
        "code": leg.code,
        "pending": leg.pending,
    }


def _encode_transfers(made: list[Transfer]) -> list[dict[str, Any]]:
    return [{**asdict(t), "kind": t.kind.value, "created_at": t.created_at.isoformat()} for t in made]


def _decode_transfers(data: list[dict[str, Any]]) -> list[Transfer]:
    return [
        Transfer(
            **{**t, "kind": TransferKind(t["kind"]), "created_at": datetime.fromisoformat(t["created_at"])}
        )
        for t in data
    ]


def move_money(
    connection: Connection, movement: Movement, currency: str, legs: Sequence[Leg], now: datetime
) -> list[Transfer]:
    """Makes every leg or none, inside the caller's transaction (which a failure must roll
    back): the accounts are locked, checked and saved, the transfers appended."""
    refs = [ref for leg in legs for ref in ((*leg.debit, currency), (*leg.credit, currency))]
    accounts = queries.locked_accounts(connection, refs, now)
    batch_id = str(uuid.uuid4()) if len(legs) > 1 else None
    made = []
    for leg in legs:
        debit, credit = accounts[(*leg.debit, currency)], accounts[(*leg.credit, currency)]
        kind = TransferKind.PENDING if leg.pending else TransferKind.SINGLE
        transfer = Transfer(
            str(uuid.uuid4()),
            kind,
            debit.id,
            credit.id,
            leg.amount,
            currency,
            leg.code,
            movement.reason,
            movement.actor,
            now,
            batch_id=batch_id,
            order_id=movement.order_id,
        )
        debit, credit = apply(transfer, debit, credit)
        accounts[(*leg.debit, currency)], accounts[(*leg.credit, currency)] = debit, credit
        made.append(transfer)
    # Raised by apply() before this point, InsufficientFunds leaves nothing written.
    queries.save_totals(connection, list(accounts.values()))
    queries.add_transfers(connection, made)
    return made


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
    queries.save_totals(connection, [debit, credit])
    queries.add_transfers(connection, [transfer])
    return transfer
