"""Use cases of the ledger: deposits and withdrawals, linked transfers (all or none),
two-phase transfers posted or voided later, balances and the zero-sum check.

Transfers that arrive together are committed together, as TigerBeetle does: a few
statements and one commit serve a whole batch, and each transfer of it still succeeds
or fails on its own. Every posted transfer is announced by a `ledger.transfer_posted`
event in the outbox of its transaction.
"""

from __future__ import annotations

import uuid
from collections import ChainMap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from services.kit.batching import Batcher
from services.kit.db import pipelined
from services.kit.errors import FailedPrecondition, FieldViolation, GantryError, InvalidArgument, NotFound
from services.kit.events import Event, new_event
from services.kit.logs import current_request_id
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
from services.marketplace.queries.ledger import AccountRef
from services.marketplace.usecases import Clock, UnitOfWorkFactory, utc_now
from services.marketplace.usecases.idempotency import Claim, claim_all, once, record, release, replay

MAX_LEGS = 16
# Transfer calls committed in one transaction at most.
MAX_BATCH = 64
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


@dataclass(eq=False)
class _Call:
    """A transfer call waiting for its batch, then holding its answer."""

    movement: Movement
    currency: str
    legs: Sequence[Leg]
    claim: Claim
    # Taken in the caller's thread: the batch is committed in another's.
    request_id: str = field(default_factory=current_request_id)
    outcome: list[Transfer] | Exception | None = None

    @property
    def refs(self) -> set[AccountRef]:
        return {(*side, self.currency) for leg in self.legs for side in (leg.debit, leg.credit)}

    def answer(self) -> list[Transfer]:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        assert self.outcome is not None
        return self.outcome


def _one_per_key(calls: Sequence[_Call]) -> list[int]:
    """The oldest waiting calls, one per idempotency key: a second call with a key waits
    for the next batch, where it finds the first's answer."""
    chosen: list[int] = []
    keys: set[tuple[str, str]] = set()
    for position, call in enumerate(calls):
        key = (call.claim.scope, call.claim.key)
        if len(chosen) < MAX_BATCH and key not in keys:
            keys.add(key)
            chosen.append(position)
    return chosen


class Ledger:
    def __init__(self, unit_of_work: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        # Calls that arrive together are committed together (batches would mostly wait
        # for each other's account locks anyway).
        self._batches = Batcher(self._commit_or_split, _one_per_key)

    @property
    def queued(self) -> int:
        """Transfer calls waiting for their batch."""
        return self._batches.queued

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
        claim = Claim.of(movement.actor, movement.idempotency_key, request)
        call = _Call(movement, currency, legs, claim)
        self._batches.submit(call)
        return call.answer()

    def resolve(self, movement: Movement, pending_id: str, post: bool, amount: int | None = None) -> Transfer:
        """Posts (in full, or `amount` of it) or voids a pending transfer, once."""
        pending_id = require_uuid(pending_id, "pending_id")
        _require_movement(movement)
        if amount is not None:
            require_amount(amount)
        request = {"op": "post" if post else "void", "pending_id": pending_id, "amount": amount}
        now = self._clock()
        with self._unit_of_work() as uow:

            def run() -> list[Transfer]:
                made = resolve_pending(uow.connection, movement, pending_id, post, amount, now)
                if _posts(made):
                    uow.emit(posted_event(made))
                return [made]

            made, ran = once(
                uow.connection,
                movement.actor,
                movement.idempotency_key,
                request,
                now,
                run,
                _encode_transfers,
                _decode_transfers,
            )
            if ran:
                uow.commit()
        return made[0]

    def _commit_or_split(self, batch: list[_Call]) -> None:
        """Commits a batch; one that fails as a whole is committed again call by call, so
        that one call's fault is its own."""
        try:
            self._commit(batch)
        except Exception as error:  # the database's or one call's: each call then alone
            if len(batch) == 1:
                batch[0].outcome = error
                return
            for call in batch:
                self._commit_or_split([call])

    def _commit(self, batch: list[_Call]) -> None:
        """Answers every call of `batch` in one transaction: transfers of calls whose key
        was free are made if the accounts allow, the others' first answers replayed."""
        now = self._clock()
        with self._unit_of_work() as uow:
            connection = uow.connection
            claimed = claim_all(connection, [call.claim for call in batch], now)
            made, refused, changed = _worked_out(connection, [c for c in batch if c.claim in claimed], now)
            answers: dict[_Call, list[Transfer] | Exception] = {**made, **refused}
            for call in batch:
                if call.claim not in claimed:
                    answers[call] = _replayed(connection, call.claim)
            if made:
                _save(connection, changed, made)
                release(connection, [call.claim for call in refused])
                uow.commit()
        for call, outcome in answers.items():
            call.outcome = outcome

    def accounts(self, owner: str) -> list[Account]:
        with self._unit_of_work(read_only=True) as uow:
            return queries.owned_accounts(uow.connection, owner)

    def imbalances(self) -> dict[str, tuple[int, int]]:
        """Every currency whose debits and credits (posted, pending) do not sum to zero."""
        with self._unit_of_work(read_only=True) as uow:
            sums = queries.net_by_currency(uow.connection)
        return {currency: net for currency, net in sums.items() if net != (0, 0)}


def _worked_out(
    connection: Connection, calls: Sequence[_Call], now: datetime
) -> tuple[dict[_Call, list[Transfer]], dict[_Call, Exception], dict[AccountRef, Account]]:
    """The transfers of each call that the accounts allow, taken in turn; the refusals of
    the others; and the accounts as the transfers leave them."""
    refs = set().union(*(call.refs for call in calls))
    locked = queries.locked_accounts(connection, refs, now) if refs else {}
    changed: dict[AccountRef, Account] = {}
    made: dict[_Call, list[Transfer]] = {}
    refused: dict[_Call, Exception] = {}
    for call in calls:
        try:
            made[call], moved = planned(
                ChainMap(changed, locked), call.movement, call.currency, call.legs, now
            )
        except GantryError as error:
            refused[call] = error
            continue
        changed.update(moved)
    return made, refused, changed


def _replayed(connection: Connection, claim: Claim) -> list[Transfer] | Exception:
    try:
        return replay(connection, claim, _decode_transfers)
    except GantryError as refused:
        return refused


def _save(
    connection: Connection, changed: Mapping[AccountRef, Account], made: dict[_Call, list[Transfer]]
) -> None:
    """Saves a batch's transfers, their events and each call's result. The events are
    left in the outbox to the relay: no wait for the broker's confirms on the way."""
    transfers = [transfer for made_by_call in made.values() for transfer in made_by_call]
    announced = [
        (posted_event(transfer), call.request_id)
        for call, made_by_call in made.items()
        for transfer in made_by_call
        if _posts(transfer)
    ]
    results = [(call.claim, _encode_transfers(made_by_call)) for call, made_by_call in made.items()]
    with pipelined(connection):
        queries.save_moves(connection, list(changed.values()), transfers, announced)
        record(connection, results)


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


def _posts(transfer: Transfer) -> bool:
    """A transfer that moves money for good, announced: not a hold, nor its void."""
    return transfer.kind in (TransferKind.SINGLE, TransferKind.POST)


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
    # vars(), not asdict(): a transfer holds only plain values, nothing to copy deeply.
    return [{**vars(t), "kind": t.kind.value, "created_at": t.created_at.isoformat()} for t in made]


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
