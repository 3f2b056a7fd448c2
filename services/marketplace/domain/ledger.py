"""The ledger's rules, in plain Python: double entry in integer minor units, as
TigerBeetle keeps it.

Every account counts its debits and credits, posted and pending, and never changes
them but by a transfer, which adds the same amount to one account's debits and
another's credits, in one currency. So, per currency, the debits of all accounts
always equal their credits: the ledger sums to zero. Money held in escrow is a
pending transfer, later posted (in full or in part) or voided.

Accounts of tenants and the platform's fee revenue are credit-normal and may never
be overdrawn: their debits, posted and pending, never exceed their posted credits.
The external account (money entering and leaving the platform) has no such bound.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from services.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument

# The owner of the platform's own accounts (fee revenue, external).
PLATFORM = "platform"
# ISO 4217 codes traded, all with two minor units (fen, cent).
CURRENCIES = ("CNY", "USD", "EUR")
MAX_AMOUNT = 2**63 - 1


class AccountKind(StrEnum):
    AVAILABLE = "available"
    ESCROW = "escrow"
    FEE_REVENUE = "fee_revenue"
    EXTERNAL = "external"


class TransferKind(StrEnum):
    SINGLE = "single"
    PENDING = "pending"
    POST = "post"
    VOID = "void"


class InsufficientFunds(FailedPrecondition):
    """A debit would overdraw an account that may not be overdrawn."""

    reason = "INSUFFICIENT_FUNDS"


@dataclass(frozen=True)
class Account:
    id: str
    owner: str
    kind: AccountKind
    currency: str
    debits_posted: int = 0
    credits_posted: int = 0
    debits_pending: int = 0
    credits_pending: int = 0

    @property
    def bounded(self) -> bool:
        return self.kind != AccountKind.EXTERNAL

    @property
    def balance(self) -> int:
        """Posted credits less posted debits: what the owner has, for a credit-normal account."""
        return self.credits_posted - self.debits_posted

    @property
    def spendable(self) -> int:
        """The balance less what pending debits hold."""
        return self.balance - self.debits_pending

    def moved(self, debits: tuple[int, int] = (0, 0), credits: tuple[int, int] = (0, 0)) -> Account:
        """This account after changes of its (posted, pending) debits and credits; raises
        InsufficientFunds when a bounded account would be overdrawn."""
        changed = replace(
            self,
            debits_posted=self.debits_posted + debits[0],
            debits_pending=self.debits_pending + debits[1],
            credits_posted=self.credits_posted + credits[0],
            credits_pending=self.credits_pending + credits[1],
        )
        figures = (
            changed.debits_posted,
            changed.credits_posted,
            changed.debits_pending,
            changed.credits_pending,
        )
        if max(figures) > MAX_AMOUNT:
            raise InvalidArgument([FieldViolation("amount", "the account's totals would overflow 64 bits")])
        if self.bounded and changed.debits_posted + changed.debits_pending > changed.credits_posted:
            raise InsufficientFunds(f"insufficient funds in the {self.kind} {self.currency} account")
        return changed


@dataclass(frozen=True)
class Transfer:
    """An immutable movement of money between two accounts, with who, when and why."""

    id: str
    kind: TransferKind
    debit_account_id: str
    credit_account_id: str
    amount: int
    currency: str
    code: str
    reason: str
    actor: str
    created_at: datetime
    # The pending transfer a post or void resolves.
    pending_id: str | None = None
    # The transfers made together, all or none.
    batch_id: str | None = None
    order_id: str | None = None


def require_amount(amount: int, field: str = "amount") -> int:
    if type(amount) is not int or not 0 < amount <= MAX_AMOUNT:
        raise InvalidArgument(
            [FieldViolation(field, f"must be a whole number of minor units from 1 to {MAX_AMOUNT}")]
        )
    return amount


def require_currency(currency: str, field: str = "currency") -> str:
    if currency not in CURRENCIES:
        raise InvalidArgument([FieldViolation(field, f"must be one of {', '.join(CURRENCIES)}")])
    return currency


def apply(
    transfer: Transfer, debit: Account, credit: Account, pending: Transfer | None = None
) -> tuple[Account, Account]:
    """The two accounts after `transfer`; `pending` is the transfer a post or void resolves."""
    if debit.currency != credit.currency or debit.currency != transfer.currency:
        raise InvalidArgument(
            [FieldViolation("currency", "both accounts must be in the transfer's currency")]
        )
    if debit.id == credit.id:
        raise InvalidArgument([FieldViolation("credit_account", "must differ from the debit account")])
    amount = transfer.amount
    if transfer.kind == TransferKind.SINGLE:
        return debit.moved(debits=(amount, 0)), credit.moved(credits=(amount, 0))
    if transfer.kind == TransferKind.PENDING:
        return debit.moved(debits=(0, amount)), credit.moved(credits=(0, amount))
    assert pending is not None
    held = pending.amount
    if transfer.kind == TransferKind.POST:
        if amount > held:
            raise InvalidArgument([FieldViolation("amount", f"at most the {held} held")])
        return debit.moved(debits=(amount, -held)), credit.moved(credits=(amount, -held))
    return debit.moved(debits=(0, -held)), credit.moved(credits=(0, -held))
