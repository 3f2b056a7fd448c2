"""The marketplace's rules in plain Python: the order lifecycle, the ledger's arithmetic and
the rules of RFQs and quotes, without a database or a broker."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.kit.errors import FailedPrecondition, InvalidArgument
from services.marketplace.domain.catalogue import Unit
from services.marketplace.domain.ledger import (
    MAX_AMOUNT,
    Account,
    AccountKind,
    InsufficientFunds,
    Transfer,
    TransferKind,
    apply,
    require_amount,
)
from services.marketplace.domain.orders import MOVES, Order, OrderState, Role, Settlement, fee_of, line_amount
from services.marketplace.domain.rfqs import (
    LONGEST_DEADLINE,
    QuoteStatus,
    Rfq,
    RfqStatus,
    accept,
    new_quote,
    new_rfq,
)

NOW = datetime(2031, 3, 3, 9, tzinfo=UTC)
BUYER, SELLER = str(uuid.uuid4()), str(uuid.uuid4())


def violations(error: InvalidArgument) -> dict[str, str]:
    return {violation.field: violation.description for violation in error.violations}


def order_in(state: OrderState) -> Order:
    return Order(str(uuid.uuid4()), BUYER, SELLER, "CNY", 10_000, 200, state, 3, NOW, NOW)


# --- the order lifecycle


@pytest.mark.parametrize(("move", "roles"), MOVES.items(), ids=lambda v: str(v))
def test_every_move_of_the_lifecycle_is_made_by_its_roles_and_counts_a_version(
    move: tuple[OrderState, OrderState], roles: frozenset[Role]
) -> None:
    source, target = move
    for role in roles:
        moved = order_in(source).moved_to(target, role, NOW + timedelta(hours=1))
        assert (moved.state, moved.version, moved.updated_at) == (target, 4, NOW + timedelta(hours=1))
    for role in set(Role) - roles:
        with pytest.raises(FailedPrecondition):
            order_in(source).moved_to(target, role, NOW)


def test_no_move_outside_the_lifecycle_is_made_by_anyone() -> None:
    for source, target in itertools.product(OrderState, OrderState):
        if (source, target) in MOVES:
            continue
        for role in Role:
            with pytest.raises(FailedPrecondition):
                order_in(source).moved_to(target, role, NOW)


def test_a_refused_move_says_who_may_make_it_and_from_where() -> None:
    with pytest.raises(
        FailedPrecondition, match="only the seller may make an order accepted; this one is placed"
    ):
        order_in(OrderState.PLACED).moved_to(OrderState.ACCEPTED, Role.BUYER, NOW)
    with pytest.raises(
        FailedPrecondition, match="a placed order cannot become accepted; only a funded one can"
    ):
        order_in(OrderState.PLACED).moved_to(OrderState.ACCEPTED, Role.SELLER, NOW)
    with pytest.raises(FailedPrecondition, match="only the operator may make an order resolved"):
        order_in(OrderState.DISPUTED).moved_to(OrderState.RESOLVED, Role.BUYER, NOW)


def test_completed_and_cancelled_orders_move_no_more() -> None:
    for final in (OrderState.COMPLETED, OrderState.CANCELLED, OrderState.RESOLVED):
        assert not [move for move in MOVES if move[0] == final]


@pytest.mark.parametrize(
    ("total", "refund", "fee_bps", "split"),
    [
        (10_000, 0, 200, Settlement(0, 200, 9_800)),
        (10_000, 10_000, 200, Settlement(10_000, 0, 0)),
        (10_001, 1, 200, Settlement(1, 200, 9_800)),
        (99, 0, 200, Settlement(0, 1, 98)),  # the fee is rounded down to a whole fen
        (1, 0, 200, Settlement(0, 0, 1)),
    ],
)
def test_a_settlement_splits_the_escrow_without_creating_or_losing_a_fen(
    total: int, refund: int, fee_bps: int, split: Settlement
) -> None:
    settled = Settlement.of(total, refund, fee_bps)
    assert settled == split
    assert settled.refund + settled.fee + settled.to_seller == total


@pytest.mark.parametrize("refund", [-1, 10_001, 1.5, True])
def test_a_refund_outside_the_escrow_is_refused(refund: object) -> None:
    with pytest.raises(InvalidArgument):
        Settlement.of(10_000, refund, 200)  # type: ignore[arg-type]


def test_fees_round_down_and_line_totals_never_overflow() -> None:
    assert fee_of(149, 200) == 2
    assert line_amount(3, 1_499) == 4_497
    with pytest.raises(InvalidArgument):
        line_amount(2, MAX_AMOUNT // 2 + 1)


# --- the ledger's arithmetic


def account(kind: AccountKind = AccountKind.AVAILABLE, currency: str = "CNY", **totals: int) -> Account:
    return Account(str(uuid.uuid4()), BUYER, kind, currency, **totals)


def transfer(kind: TransferKind, amount: int, debit: Account, credit: Account) -> Transfer:
    return Transfer(
        str(uuid.uuid4()), kind, debit.id, credit.id, amount, "CNY", "adjustment", "test", "operator", NOW
    )


def test_a_single_transfer_moves_posted_money_and_sums_to_zero() -> None:
    debit, credit = account(credits_posted=500), account()
    after = apply(transfer(TransferKind.SINGLE, 300, debit, credit), debit, credit)
    assert [(a.balance, a.spendable) for a in after] == [(200, 200), (300, 300)]
    assert sum(a.credits_posted - a.debits_posted for a in after) == 500


def test_a_hold_is_posted_in_part_or_voided_exactly() -> None:
    debit, credit = account(credits_posted=500), account(AccountKind.ESCROW)
    hold = transfer(TransferKind.PENDING, 400, debit, credit)
    debit, credit = apply(hold, debit, credit)
    assert (debit.spendable, credit.credits_pending) == (100, 400)

    posted = apply(
        replace(transfer(TransferKind.POST, 250, debit, credit), pending_id=hold.id), debit, credit, hold
    )
    assert [(a.debits_pending, a.credits_pending) for a in posted] == [(0, 0), (0, 0)]
    assert (posted[0].balance, posted[1].balance) == (250, 250)

    voided = apply(transfer(TransferKind.VOID, 400, debit, credit), debit, credit, hold)
    assert (voided[0].spendable, voided[1].credits_pending) == (500, 0)


def test_a_post_beyond_the_hold_is_refused() -> None:
    debit, credit = account(credits_posted=500), account(AccountKind.ESCROW)
    hold = transfer(TransferKind.PENDING, 400, debit, credit)
    debit, credit = apply(hold, debit, credit)
    with pytest.raises(InvalidArgument) as refused:
        apply(transfer(TransferKind.POST, 401, debit, credit), debit, credit, hold)
    assert violations(refused.value) == {"amount": "at most the 400 held"}


def test_a_bounded_account_is_never_overdrawn_but_the_external_one_may_be() -> None:
    empty = account()
    with pytest.raises(InsufficientFunds):
        apply(transfer(TransferKind.SINGLE, 1, empty, account()), empty, account())
    holding = account(credits_posted=100, debits_pending=100)
    with pytest.raises(InsufficientFunds):
        apply(transfer(TransferKind.SINGLE, 1, holding, account()), holding, account())
    external = account(AccountKind.EXTERNAL)
    after, _ = apply(transfer(TransferKind.SINGLE, 1_000, external, account()), external, account())
    assert after.balance == -1_000


def test_totals_that_would_overflow_64_bits_are_refused() -> None:
    full, external = account(credits_posted=MAX_AMOUNT), account(AccountKind.EXTERNAL)
    with pytest.raises(InvalidArgument) as refused:
        apply(transfer(TransferKind.SINGLE, 1, external, full), external, full)
    assert violations(refused.value) == {"amount": "the account's totals would overflow 64 bits"}


def test_transfers_between_currencies_or_to_the_same_account_are_refused() -> None:
    debit, other = account(credits_posted=10), account(currency="USD")
    with pytest.raises(InvalidArgument) as refused:
        apply(transfer(TransferKind.SINGLE, 1, debit, other), debit, other)
    assert list(violations(refused.value)) == ["currency"]
    with pytest.raises(InvalidArgument) as refused:
        apply(transfer(TransferKind.SINGLE, 1, debit, debit), debit, debit)
    assert violations(refused.value) == {"credit_account": "must differ from the debit account"}


@pytest.mark.parametrize("amount", [0, -1, MAX_AMOUNT + 1, 1.0, True, "5"])
def test_amounts_are_whole_positive_minor_units_within_64_bits(amount: object) -> None:
    with pytest.raises(InvalidArgument):
        require_amount(amount)  # type: ignore[arg-type]


# --- RFQs and quotes


def rfq_fields(deadline: datetime) -> dict[str, object]:
    return {
        "category": "cnc_machining",
        "title": "Flanges",
        "specification": "DN50",
        "quantity": 100,
        "unit": Unit.PIECE,
        "currency": "CNY",
        "deadline": deadline,
    }


def quote_fields(valid_until: datetime, **changes: object) -> dict[str, object]:
    return {"price": 90_000, "lead_time_days": 14, "valid_until": valid_until, "note": "", **changes}


def open_rfq() -> Rfq:
    return new_rfq(str(uuid.uuid4()), BUYER, rfq_fields(NOW + timedelta(days=7)), NOW)


def test_an_rfq_is_open_until_its_deadline_then_expired() -> None:
    rfq = open_rfq()
    assert rfq.state_at(NOW) is RfqStatus.OPEN
    assert rfq.state_at(NOW + timedelta(days=7)) is RfqStatus.EXPIRED
    with pytest.raises(FailedPrecondition, match="expired"):
        rfq.require_open(NOW + timedelta(days=8))


@pytest.mark.parametrize(
    "deadline", [NOW, NOW - timedelta(seconds=1), NOW + LONGEST_DEADLINE + timedelta(seconds=1)]
)
def test_an_rfq_deadline_is_ahead_and_within_a_year(deadline: datetime) -> None:
    with pytest.raises(InvalidArgument) as refused:
        new_rfq(str(uuid.uuid4()), BUYER, rfq_fields(deadline), NOW)
    assert list(violations(refused.value)) == ["deadline"]


def test_a_seller_quotes_once_in_the_rfq_currency_and_never_its_own_request() -> None:
    rfq = open_rfq()
    valid = NOW + timedelta(days=3)
    quote = new_quote(str(uuid.uuid4()), rfq, SELLER, [], quote_fields(valid), NOW)
    assert quote.state_at(NOW) is QuoteStatus.OPEN
    with pytest.raises(FailedPrecondition, match="already have an open quote"):
        new_quote(str(uuid.uuid4()), rfq, SELLER, [quote], quote_fields(valid), NOW)
    with pytest.raises(FailedPrecondition, match="your own request"):
        new_quote(str(uuid.uuid4()), rfq, BUYER, [], quote_fields(valid), NOW)
    with pytest.raises(InvalidArgument) as refused:
        new_quote(str(uuid.uuid4()), rfq, SELLER, [], quote_fields(valid, currency="USD"), NOW)
    assert violations(refused.value) == {"currency": "must be the request's currency, CNY"}
    withdrawn = quote.withdrawn(NOW)
    assert (
        new_quote(str(uuid.uuid4()), rfq, SELLER, [withdrawn], quote_fields(valid), NOW).status
        is QuoteStatus.OPEN
    )


def test_an_accepted_quote_orders_the_whole_quantity_at_its_price_while_both_are_open() -> None:
    rfq = open_rfq()
    quote = new_quote(str(uuid.uuid4()), rfq, SELLER, [], quote_fields(NOW + timedelta(days=3)), NOW)
    accepted = accept(rfq, quote, NOW)
    assert (accepted.buyer_id, accepted.seller_id, accepted.quantity, accepted.price) == (
        BUYER,
        SELLER,
        100,
        90_000,
    )
    with pytest.raises(FailedPrecondition, match="quote has expired"):
        accept(rfq, quote, NOW + timedelta(days=3))
    with pytest.raises(FailedPrecondition, match="request was cancelled"):
        accept(rfq.cancelled(NOW), quote, NOW)
