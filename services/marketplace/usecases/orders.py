"""Use cases of orders: placing them from a listing or an accepted quote, and moving them
through their lifecycle with the money in escrow on the ledger.

Every command is one transaction holding the order's change, its record of who moved
it, when and why, the money it moves, and its events; and it runs once per
idempotency key of its actor, so a retried call has one effect.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection

from services.kit import pagination
from services.kit.db import UnitOfWork
from services.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from services.kit.events import new_event
from services.kit.validation import require_uuid
from services.marketplace.domain.ledger import PLATFORM, AccountKind
from services.marketplace.domain.orders import (
    Order,
    OrderLine,
    OrderState,
    Role,
    Settlement,
    fee_of,
)
from services.marketplace.queries import orders as queries
from services.marketplace.queries import rfqs as rfq_queries
from services.marketplace.queries import slot_evidence as evidence_queries
from services.marketplace.usecases import Clock, UnitOfWorkFactory, utc_now
from services.marketplace.usecases.idempotency import once
from services.marketplace.usecases.ledger import (
    Leg,
    Movement,
    move_money,
    posted_event,
    release_escrow,
    resolve_pending,
)
from services.marketplace.usecases.reservations import release, reserve

DEFAULT_FEE_BPS = 200
MAX_QUANTITY = 1_000_000_000
AVAILABLE, ESCROW = AccountKind.AVAILABLE, AccountKind.ESCROW
# The states an order announces on the bus.
ANNOUNCED = {
    OrderState.PLACED: "order.placed",
    OrderState.FUNDED: "order.funded",
    OrderState.COMPLETED: "order.completed",
    OrderState.CANCELLED: "order.cancelled",
    OrderState.DISPUTED: "order.disputed",
}
_PROGRESS = (OrderState.ACCEPTED, OrderState.IN_PRODUCTION, OrderState.SHIPPED, OrderState.DELIVERED)


@dataclass(frozen=True)
class Command:
    """Who acts (a tenant, or the operator when `tenant_id` is None), why, and under which
    idempotency key."""

    tenant_id: str | None
    reason: str
    idempotency_key: str

    @property
    def actor(self) -> str:
        return f"tenant:{self.tenant_id}" if self.tenant_id else "operator"

    def movement(self, order_id: str) -> Movement:
        return Movement(self.actor, self.reason, self.idempotency_key, order_id)


Change = Callable[[UnitOfWork, Order, Role, datetime], Order]


class OrderRecord(NamedTuple):
    """An order with its lines, every change of its state, and what was measured of the
    machine in each booked slot of a capacity order that has ended."""

    order: Order
    lines: list[OrderLine]
    history: list[dict[str, Any]]
    slot_evidence: list[dict[str, Any]]
    # The states the reader may move it to now.
    moves: list[OrderState]


class Orders:
    def __init__(
        self, unit_of_work: UnitOfWorkFactory, clock: Clock = utc_now, fee_bps: int = DEFAULT_FEE_BPS
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._fee_bps = fee_bps

    def place(
        self, command: Command, listing_id: str, quantity: int, slots: Sequence[datetime] = ()
    ) -> Order:
        """An order of `quantity` units of a published listing; for capacity, of the hour
        slots starting at `slots`, booked at once."""
        buyer = _tenant(command)
        listing_id = require_uuid(listing_id, "listing_id")
        _require_quantity(quantity)
        request = {
            "op": "place",
            "listing_id": listing_id,
            "quantity": quantity,
            "slots": sorted(s.isoformat() for s in slots),
        }

        def run(uow: UnitOfWork, now: datetime) -> Order:
            order_id = str(uuid.uuid4())
            line = reserve(uow.connection, buyer, listing_id, quantity, list(slots), order_id)
            return self._open(uow, command, order_id, buyer, line, now)

        return self._once(command, request, run)

    def place_from_quote(self, command: Command, quote_id: str) -> Order:
        """The order of an accepted quote: the RFQ's whole quantity at the quoted price."""
        buyer = _tenant(command)
        quote_id = require_uuid(quote_id, "quote_id")

        def run(uow: UnitOfWork, now: datetime) -> Order:
            quote = rfq_queries.take_quote(uow.connection, buyer, quote_id, now)
            description = f"{quote.title} ({quote.quantity} {quote.unit})"[:200]
            line = (
                quote.seller_id,
                quote.currency,
                OrderLine(1, None, description, 1, quote.price, quote.price),
            )
            return self._open(uow, command, str(uuid.uuid4()), buyer, line, now, quote_id=quote_id)

        return self._once(command, {"op": "place_from_quote", "quote_id": quote_id}, run)

    def fund(self, command: Command, order_id: str) -> Order:
        """The buyer's money moves into escrow: held by a pending transfer."""

        def change(uow: UnitOfWork, order: Order, role: Role, now: datetime) -> Order:
            funded = order.moved_to(OrderState.FUNDED, role, now)
            leg = Leg(
                (order.buyer_id, AVAILABLE),
                (order.buyer_id, ESCROW),
                order.total,
                "order_funding",
                pending=True,
            )
            [hold] = move_money(uow.connection, command.movement(order.id), order.currency, [leg], now)
            return replace(funded, escrow_transfer_id=hold.id)

        return self._change(command, order_id, "fund", change)

    def advance(self, command: Command, order_id: str, state: OrderState) -> Order:
        """A move that moves no money: accepted, in production, shipped, delivered, disputed."""
        if state not in (*_PROGRESS, OrderState.DISPUTED):
            raise InvalidArgument(
                [FieldViolation("state", "accepted, in_production, shipped, delivered or disputed")]
            )

        def change(uow: UnitOfWork, order: Order, role: Role, now: datetime) -> Order:
            return order.moved_to(state, role, now)

        return self._change(command, order_id, f"advance:{state}", change)

    def complete(self, command: Command, order_id: str) -> Order:
        """Escrow released: the total less the fee to the seller, the fee to the platform."""

        def change(uow: UnitOfWork, order: Order, role: Role, now: datetime) -> Order:
            completed = order.moved_to(OrderState.COMPLETED, role, now)
            self._settle(uow, command, order, Settlement(0, order.fee, order.total - order.fee), now)
            return completed

        return self._change(command, order_id, "complete", change)

    def cancel(self, command: Command, order_id: str) -> Order:
        """Before production: the escrow goes back to the buyer, stock and slots are freed."""

        def change(uow: UnitOfWork, order: Order, role: Role, now: datetime) -> Order:
            cancelled = order.moved_to(OrderState.CANCELLED, role, now)
            if order.escrow_transfer_id:
                resolve_pending(
                    uow.connection, command.movement(order.id), order.escrow_transfer_id, False, None, now
                )
            release(uow.connection, order)
            return cancelled

        return self._change(command, order_id, "cancel", change)

    def resolve_dispute(self, command: Command, order_id: str, refund: int) -> Order:
        """The operator's ruling: `refund` back to the buyer, the rest released (less its fee)."""
        if command.tenant_id is not None:
            raise FailedPrecondition("only the operator resolves disputes")

        def change(uow: UnitOfWork, order: Order, role: Role, now: datetime) -> Order:
            resolved = order.moved_to(OrderState.RESOLVED, role, now)
            self._settle(uow, command, order, Settlement.of(order.total, refund, self._fee_bps), now)
            return resolved

        return self._change(command, order_id, "resolve", change, {"refund": refund})

    def get(self, tenant_id: str | None, order_id: str) -> OrderRecord:
        """An order, its lines, its history and its slots' evidence, for its buyer, its
        seller or the operator."""
        order_id = require_uuid(order_id, "order_id")
        with self._unit_of_work(read_only=True) as uow:
            order = queries.find_order(uow.connection, order_id)
            role = None if order is None else Role.OPERATOR if tenant_id is None else order.role_of(tenant_id)
            if order is None or role is None:
                raise NotFound("order not found")
            return OrderRecord(
                order,
                queries.lines_of(uow.connection, order_id),
                queries.transitions_of(uow.connection, order_id),
                evidence_queries.evidence_of(uow.connection, order_id),
                order.moves_of(role),
            )

    def list(self, tenant_id: str, size: int, cursor: str) -> tuple[list[Order], str]:
        """The tenant's orders as buyer or seller, newest first."""
        tenant_id = require_uuid(tenant_id, "tenant_id")
        limit = pagination.page_size(size)
        listing = {"tenant": tenant_id}
        after = _after(pagination.decode_cursor(cursor, listing))
        with self._unit_of_work(read_only=True) as uow:
            found = queries.orders_of(uow.connection, tenant_id, after, limit + 1)
        return pagination.keyset_page(
            found, limit, lambda last: [last.created_at.isoformat(), last.id], listing
        )

    def _open(
        self,
        uow: UnitOfWork,
        command: Command,
        order_id: str,
        buyer: str,
        sold: tuple[str, str, OrderLine],
        now: datetime,
        quote_id: str | None = None,
    ) -> Order:
        seller, currency, line = sold
        order = Order(
            order_id,
            buyer,
            seller,
            currency,
            line.amount,
            fee_of(line.amount, self._fee_bps),
            OrderState.PLACED,
            1,
            now,
            now,
            quote_id=quote_id,
        )
        queries.add_order(uow.connection, order, [line])
        queries.add_transition(uow.connection, order, None, command.actor, command.reason, now)
        uow.emit(_announced(uow.connection, order))
        return order

    def _settle(
        self, uow: UnitOfWork, command: Command, order: Order, split: Settlement, now: datetime
    ) -> None:
        """Posts the escrow in full and pays it out: refund, seller, fee (each leg only if any),
        announcing every transfer posted."""
        if not order.escrow_transfer_id:
            raise FailedPrecondition("the order holds no escrow")
        escrow = (order.buyer_id, ESCROW)
        payouts = [
            Leg(escrow, (order.buyer_id, AVAILABLE), split.refund, "order_refund"),
            Leg(escrow, (order.seller_id, AVAILABLE), split.to_seller, "order_release"),
            Leg(escrow, (PLATFORM, AccountKind.FEE_REVENUE), split.fee, "platform_fee"),
        ]
        posted = release_escrow(
            uow.connection, command.movement(order.id), order.escrow_transfer_id, order.currency, payouts, now
        )
        for transfer in posted:
            uow.emit(posted_event(transfer))

    def _change(
        self, command: Command, order_id: str, op: str, change: Change, details: dict[str, Any] | None = None
    ) -> Order:
        order_id = require_uuid(order_id, "order_id")

        def run(uow: UnitOfWork, now: datetime) -> Order:
            order = queries.lock_order(uow.connection, order_id)
            role = _role(order, command)
            assert order is not None
            changed = change(uow, order, role, now)
            queries.save_order(uow.connection, changed)
            queries.add_transition(uow.connection, changed, order.state, command.actor, command.reason, now)
            if changed.state in ANNOUNCED:
                uow.emit(_announced(uow.connection, changed))
            return changed

        return self._once(command, {"op": op, "order_id": order_id, **(details or {})}, run)

    def _once(
        self, command: Command, request: dict[str, Any], run: Callable[[UnitOfWork, datetime], Order]
    ) -> Order:
        now = self._clock()
        with self._unit_of_work() as uow:
            order, ran = once(
                uow.connection,
                command.actor,
                command.idempotency_key,
                request,
                now,
                lambda: run(uow, now),
                _encode,
                _decode,
            )
            if ran:
                uow.commit()
        return order


def _after(position: list[Any] | None) -> tuple[datetime, str] | None:
    """Where a page of orders continues. The cursor's fingerprint is no signature, so its
    position is checked like any other input."""
    if position is None:
        return None
    try:
        created_at, order_id = position
        return datetime.fromisoformat(created_at), require_uuid(order_id, "page.cursor")
    except (ValueError, TypeError):
        raise InvalidArgument([FieldViolation("page.cursor", "not a cursor of this list")]) from None


def _tenant(command: Command) -> str:
    if command.tenant_id is None:
        raise FailedPrecondition("orders are placed by tenants")
    return require_uuid(command.tenant_id, "tenant_id")


def _require_quantity(quantity: int) -> None:
    if type(quantity) is not int or not 0 < quantity <= MAX_QUANTITY:
        raise InvalidArgument([FieldViolation("quantity", f"a whole number from 1 to {MAX_QUANTITY}")])


def _role(order: Order | None, command: Command) -> Role:
    """The actor's part in the order; another tenant's order is NotFound."""
    if command.tenant_id is None and order is not None:
        return Role.OPERATOR
    role = order.role_of(command.tenant_id) if order is not None and command.tenant_id else None
    if role is None:
        raise NotFound("order not found")
    return role


def _announced(connection: Connection, order: Order) -> Any:
    """The order's event; a capacity order's names its device and the slots it holds, so
    that analytics can tell what the machine did in them."""
    data: dict[str, Any] = {
        "order_id": order.id,
        "buyer_id": order.buyer_id,
        "seller_id": order.seller_id,
        "state": order.state.value,
        "currency": order.currency,
        "total": order.total,
        "fee": order.fee,
        "version": order.version,
    }
    booking = queries.booking_of(connection, order.id)
    if booking is not None:
        device_id, slots = booking
        data |= {"device_id": device_id, "slots": [start.isoformat() for start in slots]}
    return new_event(ANNOUNCED[order.state], order.buyer_id, data)


def _encode(order: Order) -> dict[str, Any]:
    return {
        **asdict(order),
        "state": order.state.value,
        "created_at": order.created_at.isoformat(),
        "updated_at": order.updated_at.isoformat(),
    }


def _decode(data: dict[str, Any]) -> Order:
    return Order(
        **{
            **data,
            "state": OrderState(data["state"]),
            "created_at": datetime.fromisoformat(data["created_at"]),
            "updated_at": datetime.fromisoformat(data["updated_at"]),
        }
    )
