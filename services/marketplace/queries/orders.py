"""Orders' SQL: an order with its lines and the record of every state it went through."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from services.marketplace.domain.catalogue import ListingKind
from services.marketplace.domain.orders import Order, OrderLine, OrderState
from services.marketplace.storage import capacity_slots, listings, order_lines, order_transitions, orders

_ORDER_FIELDS = tuple(c.name for c in orders.columns)


def _order(row: Any) -> Order:
    mapping = row._mapping
    return Order(**{**{k: mapping[k] for k in _ORDER_FIELDS}, "state": OrderState(mapping["state"])})


def add_order(connection: Connection, order: Order, lines: Sequence[OrderLine]) -> None:
    connection.execute(insert(orders).values(**{**asdict(order), "state": order.state.value}))
    connection.execute(insert(order_lines), [{**asdict(line), "order_id": order.id} for line in lines])


def lock_order(connection: Connection, order_id: str) -> Order | None:
    row = connection.execute(select(orders).where(orders.c.id == order_id).with_for_update()).first()
    return _order(row) if row else None


def find_order(connection: Connection, order_id: str) -> Order | None:
    row = connection.execute(select(orders).where(orders.c.id == order_id)).first()
    return _order(row) if row else None


def lines_of(connection: Connection, order_id: str) -> list[OrderLine]:
    query = select(order_lines).where(order_lines.c.order_id == order_id).order_by(order_lines.c.line_no)
    return [
        OrderLine(**{k: v for k, v in row._mapping.items() if k != "order_id"})
        for row in connection.execute(query)
    ]


def save_order(connection: Connection, order: Order) -> None:
    """Saves a locked order's new state and version."""
    connection.execute(
        update(orders)
        .where(orders.c.id == order.id)
        .values(
            state=order.state.value,
            version=order.version,
            updated_at=order.updated_at,
            escrow_transfer_id=order.escrow_transfer_id,
        )
    )


def add_transition(
    connection: Connection, order: Order, previous: OrderState | None, actor: str, reason: str, at: datetime
) -> None:
    connection.execute(
        insert(order_transitions).values(
            order_id=order.id,
            version=order.version,
            from_state=previous.value if previous else None,
            to_state=order.state.value,
            actor=actor,
            reason=reason,
            at=at,
        )
    )


def transitions_of(connection: Connection, order_id: str) -> list[dict[str, Any]]:
    query = (
        select(order_transitions)
        .where(order_transitions.c.order_id == order_id)
        .order_by(order_transitions.c.version)
    )
    return [dict(row._mapping) for row in connection.execute(query)]


def orders_of(
    connection: Connection, tenant_id: str, after: tuple[datetime, str] | None, limit: int
) -> list[Order]:
    """A tenant's orders, as buyer or seller, newest first."""
    query = select(orders).where(or_(orders.c.buyer_id == tenant_id, orders.c.seller_id == tenant_id))
    if after is not None:
        created_at, order_id = after
        query = query.where(
            or_(
                orders.c.created_at < created_at,
                (orders.c.created_at == created_at) & (orders.c.id < order_id),
            )
        )
    query = query.order_by(orders.c.created_at.desc(), orders.c.id.desc()).limit(limit)
    return [_order(row) for row in connection.execute(query)]


def booking_of(connection: Connection, order_id: str) -> tuple[str, list[datetime]] | None:
    """A capacity order's device, and the starts of the slots it holds now, earliest
    first; None for an order of anything else."""
    device_query = (
        select(listings.c.device_id)
        .join(order_lines, order_lines.c.listing_id == listings.c.id)
        .where(order_lines.c.order_id == order_id, listings.c.kind == ListingKind.CAPACITY.value)
    )
    device_id = connection.execute(device_query).scalar()
    if device_id is None:
        return None
    slots_query = (
        select(capacity_slots.c.starts_at)
        .where(capacity_slots.c.order_id == order_id)
        .order_by(capacity_slots.c.starts_at)
    )
    return device_id, list(connection.execute(slots_query).scalars())
