"""Random sequences of deposits, transfers, holds, posts, voids and withdrawals among
many tenants: after every step each balance is what a plain model says, and every
currency sums to zero. Refused steps change nothing."""

from __future__ import annotations

import tempfile
import uuid
from collections import defaultdict
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from services.kit.bus import Publish
from services.kit.migrate import upgrade
from services.kit.store import Store
from services.marketplace.domain.ledger import CURRENCIES, AccountKind, InsufficientFunds
from services.marketplace.storage import metadata
from services.marketplace.usecases.ledger import Ledger, Leg, Movement

TENANTS = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"tenant-{i}")) for i in range(4)]
AVAILABLE, ESCROW = AccountKind.AVAILABLE, AccountKind.ESCROW
amounts = st.integers(min_value=1, max_value=5_000)


def no_events(_messages: object) -> None:
    """Events stay in the outbox; nothing is published here."""


class LedgerMachine(RuleBasedStateMachine):
    @initialize()
    def open_books(self) -> None:
        self.directory = tempfile.TemporaryDirectory()
        url = f"sqlite:///{Path(self.directory.name) / 'marketplace.db'}"
        upgrade("marketplace", url)
        publish: Publish = no_events
        self.store = Store("marketplace", metadata, publish, url=url)
        self.ledger = Ledger(self.store.unit_of_work)
        # The model: spendable balance per (tenant, kind, currency), and holds open.
        self.spendable: dict[tuple[str, str, str], int] = defaultdict(int)
        self.holds: list[tuple[str, str, str, int]] = []

    def teardown(self) -> None:
        self.store.close()
        self.directory.cleanup()

    def _movement(self) -> Movement:
        return Movement("operator", "property", str(uuid.uuid4()))

    @rule(tenant=st.sampled_from(TENANTS), currency=st.sampled_from(CURRENCIES), amount=amounts)
    def deposit(self, tenant: str, currency: str, amount: int) -> None:
        self.ledger.deposit(self._movement(), tenant, currency, amount)
        self.spendable[(tenant, AVAILABLE, currency)] += amount

    @rule(
        payer=st.sampled_from(TENANTS),
        payee=st.sampled_from(TENANTS),
        currency=st.sampled_from(CURRENCIES),
        amount=amounts,
    )
    def transfer(self, payer: str, payee: str, currency: str, amount: int) -> None:
        if payer == payee:
            return
        leg = Leg((payer, AVAILABLE), (payee, AVAILABLE), amount, "adjustment")
        if self._refused(
            lambda: self.ledger.transfer(self._movement(), currency, [leg]), payer, currency, amount
        ):
            return
        self.spendable[(payer, AVAILABLE, currency)] -= amount
        self.spendable[(payee, AVAILABLE, currency)] += amount

    @rule(buyer=st.sampled_from(TENANTS), currency=st.sampled_from(CURRENCIES), amount=amounts)
    def hold(self, buyer: str, currency: str, amount: int) -> None:
        leg = Leg((buyer, AVAILABLE), (buyer, ESCROW), amount, "order_funding", pending=True)
        made = []
        if self._refused(
            lambda: made.extend(self.ledger.transfer(self._movement(), currency, [leg])),
            buyer,
            currency,
            amount,
        ):
            return
        self.spendable[(buyer, AVAILABLE, currency)] -= amount
        self.holds.append((made[0].id, buyer, currency, amount))

    @rule(data=st.data(), post=st.booleans())
    def resolve(self, data: st.DataObject, post: bool) -> None:
        if not self.holds:
            return
        hold = data.draw(st.sampled_from(self.holds))
        pending_id, buyer, currency, amount = hold
        part = data.draw(st.integers(min_value=1, max_value=amount)) if post else None
        self.ledger.resolve(self._movement(), pending_id, post=post, amount=part)
        self.holds.remove(hold)
        if post:
            assert part is not None
            self.spendable[(buyer, AVAILABLE, currency)] += amount - part
            self.spendable[(buyer, ESCROW, currency)] += part
        else:
            self.spendable[(buyer, AVAILABLE, currency)] += amount

    @rule(tenant=st.sampled_from(TENANTS), currency=st.sampled_from(CURRENCIES), amount=amounts)
    def withdraw(self, tenant: str, currency: str, amount: int) -> None:
        if self._refused(
            lambda: self.ledger.withdraw(self._movement(), tenant, currency, amount), tenant, currency, amount
        ):
            return
        self.spendable[(tenant, AVAILABLE, currency)] -= amount

    def _refused(self, call: object, payer: str, currency: str, amount: int) -> bool:
        """Runs a debit of the payer's available account; True when it was refused, as the
        model says it must be exactly when the money is not there."""
        enough = self.spendable[(payer, AVAILABLE, currency)] >= amount
        try:
            call()  # type: ignore[operator]
        except InsufficientFunds:
            assert not enough
            return True
        assert enough
        return False

    @invariant()
    def balances_are_exact_and_the_books_balance(self) -> None:
        if not hasattr(self, "ledger"):
            return
        for tenant in TENANTS:
            for account in self.ledger.accounts(tenant):
                assert account.spendable == self.spendable[(tenant, account.kind, account.currency)]
        assert self.ledger.imbalances() == {}


LedgerMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
test_the_ledger_matches_its_model = LedgerMachine.TestCase
