"""The SQL of the evidence analytics measured of capacity orders' booked slots."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from services.kit.db import insert_ignoring_duplicates
from services.marketplace.storage import order_slot_evidence as evidence


def add_evidence(connection: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Keeps each slot's evidence once: a slot already reported keeps its first; returns
    how many were new."""
    return insert_ignoring_duplicates(connection, evidence, rows)


def evidence_of(connection: Connection, order_id: str) -> list[dict[str, Any]]:
    """The order's slots' evidence, earliest slot first."""
    query = select(evidence).where(evidence.c.order_id == order_id).order_by(evidence.c.starts_at)
    return [dict(row._mapping) for row in connection.execute(query)]
