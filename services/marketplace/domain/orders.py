"""Orders and their lifecycle, in plain Python.

placed → funded (the buyer's money held in escrow) → accepted by the seller →
in production → shipped → delivered → completed (escrow released to the seller,
the fee to the platform). Cancelling before production returns the escrow; a
dispute freezes it until an operator resolves it (refund all or part, release the
rest). Each move names who may make it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from services.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument
from services.marketplace.domain.ledger import MAX_AMOUNT

BASIS_POINTS = 10_000


class OrderState(StrEnum):
    PLACED = "placed"
    FUNDED = "funded"
    ACCEPTED = "accepted"
    IN_PRODUCTION = "in_production"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    DISPUTED = "disputed"
    RESOLVED = "resolved"


class Role(StrEnum):
    BUYER = "buyer"
    SELLER = "seller"
    OPERATOR = "operator"


_S = OrderState
# (from, to) -> who may make the move.
MOVES: dict[tuple[OrderState, OrderState], frozenset[Role]] = {
    (_S.PLACED, _S.FUNDED): frozenset({Role.BUYER}),
    (_S.FUNDED, _S.ACCEPTED): frozenset({Role.SELLER}),
    (_S.ACCEPTED, _S.IN_PRODUCTION): frozenset({Role.SELLER}),
    (_S.IN_PRODUCTION, _S.SHIPPED): frozenset({Role.SELLER}),
    (_S.SHIPPED, _S.DELIVERED): frozenset({Role.BUYER, Role.SELLER}),
    (_S.DELIVERED, _S.COMPLETED): frozenset({Role.BUYER}),
    **{
        (state, _S.CANCELLED): frozenset({Role.BUYER, Role.SELLER})
        for state in (_S.PLACED, _S.FUNDED, _S.ACCEPTED)
    },
    **{
        (state, _S.DISPUTED): frozenset({Role.BUYER, Role.SELLER})
        for state in (_S.FUNDED, _S.ACCEPTED, _S.IN_PRODUCTION, _S.SHIPPED, _S.DELIVERED)
    },
    (_S.DISPUTED, _S.RESOLVED): frozenset({Role.OPERATOR}),
}


@dataclass(frozen=True)
class OrderLine:
    line_no: int
    listing_id: str | None
    description: str
    quantity: int
    unit_price: int
    amount: int


@dataclass(frozen=True)
class Order:
    id: str
    buyer_id: str
    seller_id: str
    currency: str
    total: int
    fee: int
    state: OrderState
    version: int
    created_at: datetime
    updated_at: datetime
    quote_id: str | None = None
    escrow_transfer_id: str | None = None

    def role_of(self, tenant_id: str) -> Role | None:
        if tenant_id == self.buyer_id:
            return Role.BUYER
        return Role.SELLER if tenant_id == self.seller_id else None

    def moves_of(self, role: Role) -> list[OrderState]:
        """The states `role` may move this order to now."""
        return [target for (source, target), roles in MOVES.items() if source is self.state and role in roles]

    def moved_to(self, state: OrderState, role: Role, now: datetime) -> Order:
        """This order in `state`; FailedPrecondition when the lifecycle forbids the move
        or `role` may not make it."""
        allowed = MOVES.get((self.state, state))
        if allowed is not None and role in allowed:
            return replace(self, state=state, version=self.version + 1, updated_at=now)
        raise FailedPrecondition(_refusal(self.state, state, role))


def _refusal(current: OrderState, state: OrderState, role: Role) -> str:
    """Why `role` may not move an order from `current` to `state`, and what would allow it."""
    into = {source: roles for (source, target), roles in MOVES.items() if target == state}
    movers = set().union(*into.values()) if into else set()
    if role not in movers:
        who = " or ".join(sorted(movers)) or "no one"
        return f"only the {who} may make an order {state}; this one is {current}"
    sources = sorted(source for source, roles in into.items() if role in roles)
    return f"a {current} order cannot become {state}; only a {' or '.join(sources)} one can"


def line_amount(quantity: int, unit_price: int) -> int:
    amount = quantity * unit_price
    if amount > MAX_AMOUNT:
        raise InvalidArgument([FieldViolation("quantity", "the order's total would overflow 64 bits")])
    return amount


def fee_of(amount: int, fee_bps: int) -> int:
    """The platform's fee on `amount`, rounded down to a whole minor unit."""
    return amount * fee_bps // BASIS_POINTS


@dataclass(frozen=True)
class Settlement:
    """How a disputed order's escrow is split: the refund to the buyer, and of the rest
    the fee to the platform and the remainder to the seller."""

    refund: int
    fee: int
    to_seller: int

    @classmethod
    def of(cls, total: int, refund: int, fee_bps: int) -> Settlement:
        if type(refund) is not int or not 0 <= refund <= total:
            raise InvalidArgument(
                [FieldViolation("refund", f"a whole number of minor units from 0 to {total}")]
            )
        released = total - refund
        fee = fee_of(released, fee_bps)
        return cls(refund, fee, released - fee)
