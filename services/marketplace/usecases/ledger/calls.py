"""Use cases of the ledger: deposits and withdrawals, linked transfers (all or none),
two-phase transfers posted or voided later, balances and the zero-sum check.

Transfers that arrive together are committed together, as TigerBeetle does: a few
statements and one commit serve a whole batch, and each transfer of it still succeeds
or fails on its own. Every posted transfer is announced by a `ledger.transfer_posted`
event in the outbox of its transaction.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from services.kit import pagination
from services.kit.batching import Batcher
from services.kit.db import pipelined
from services.kit.errors import GantryError, NotFound
from services.kit.logs import current_request_id
from services.kit.validation import require_uuid
from services.marketplace.domain.ledger import (
    PLATFORM,
    Account,
    AccountKind,
    Transfer,
    TransferKind,
    require_amount,
    require_currency,
)
from services.marketplace.queries import ledger as queries
from services.marketplace.queries.ledger import AccountRef
from services.marketplace.usecases import Clock, UnitOfWorkFactory, utc_now
from services.marketplace.usecases.idempotency import Claim, claim_all, once, record, release, replay
from services.marketplace.usecases.ledger.postings import (
    Leg,
    Movement,
    planned,
    posted_event,
    posts,
    require_legs,
    require_movement,
    resolve_pending,
)

# Transfer calls committed in one transaction at most.
MAX_BATCH = 64


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
        require_movement(movement)
        require_legs(legs)
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
        require_movement(movement)
        if amount is not None:
            require_amount(amount)
        request = {"op": "post" if post else "void", "pending_id": pending_id, "amount": amount}
        now = self._clock()
        with self._unit_of_work() as uow:

            def run() -> list[Transfer]:
                made = resolve_pending(uow.connection, movement, pending_id, post, amount, now)
                if posts(made):
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

    def transfers(self, owner: str, account_id: str, size: int, cursor: str) -> tuple[list[Transfer], str]:
        """An account's transfers, newest first, a page at a time; NotFound for an account
        of another owner's."""
        account_id = require_uuid(account_id, "account_id")
        limit = pagination.page_size(size)
        listing = {"account": account_id}
        after = pagination.time_and_id(pagination.decode_cursor(cursor, listing))
        with self._unit_of_work(read_only=True) as uow:
            if queries.owned_account(uow.connection, owner, account_id) is None:
                raise NotFound("account not found")
            found = queries.transfers_of(uow.connection, account_id, after, limit + 1)
        return pagination.keyset_page(
            found, limit, lambda last: [last.created_at.isoformat(), last.id], listing
        )

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
        if posts(transfer)
    ]
    results = [(call.claim, _encode_transfers(made_by_call)) for call, made_by_call in made.items()]
    with pipelined(connection):
        queries.save_moves(connection, list(changed.values()), transfers, announced)
        record(connection, results)


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
