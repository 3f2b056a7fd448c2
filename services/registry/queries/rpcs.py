"""Reads and writes of server-side RPCs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, insert, select, tuple_, update

from services.registry.domain_rpcs import Rpc, RpcStatus
from services.registry.storage import device_rpcs as table


def _rpc(row: Any) -> Rpc:
    return Rpc(**{**row._mapping, "status": RpcStatus(row.status)})


def add_rpc(connection: Connection, rpc: Rpc) -> None:
    connection.execute(insert(table).values(**{**vars(rpc), "status": rpc.status.value}))


def find_rpc(connection: Connection, tenant_id: str, device_id: str, rpc_id: str) -> Rpc | None:
    row = connection.execute(
        select(table).where(
            table.c.id == rpc_id, table.c.device_id == device_id, table.c.tenant_id == tenant_id
        )
    ).first()
    return None if row is None else _rpc(row)


def list_rpcs(
    connection: Connection, tenant_id: str, device_id: str, before: tuple[datetime, str] | None, limit: int
) -> list[Rpc]:
    """The device's RPCs, newest first, from just before `before` (created at, id)."""
    query = select(table).where(table.c.device_id == device_id, table.c.tenant_id == tenant_id)
    if before is not None:
        query = query.where(tuple_(table.c.created_at, table.c.id) < tuple_(*before))
    query = query.order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit)
    return [_rpc(row) for row in connection.execute(query)]


def claim_rpcs(
    connection: Connection, tenant_id: str, device_id: str, rpc_ids: Sequence[str], now: datetime
) -> list[Rpc]:
    """Moves the device's RPCs awaiting delivery (of `rpc_ids`, or all) to sent, or delivered
    for one-way ones, and returns them oldest first: a row moves once, so each is sent once."""
    conditions = [
        table.c.device_id == device_id,
        table.c.tenant_id == tenant_id,
        table.c.status == RpcStatus.QUEUED.value,
        table.c.expires_at > now,
    ]
    if rpc_ids:
        conditions.append(table.c.id.in_(rpc_ids))
    sent = case((table.c.one_way, RpcStatus.DELIVERED.value), else_=RpcStatus.SENT.value)
    result = connection.execute(
        update(table).where(*conditions).values(status=sent, sent_at=now).returning(*table.c)
    )
    return sorted((_rpc(row) for row in result), key=lambda rpc: (rpc.created_at, rpc.id))


def answer_rpc(
    connection: Connection, tenant_id: str, device_id: str, rpc_id: str, response: Any, now: datetime
) -> Rpc | None:
    """Records the answer to a two-way RPC sent and not expired; None when none such is."""
    row = connection.execute(
        update(table)
        .where(
            table.c.id == rpc_id,
            table.c.device_id == device_id,
            table.c.tenant_id == tenant_id,
            table.c.status == RpcStatus.SENT.value,
            table.c.expires_at > now,
        )
        .values(status=RpcStatus.SUCCEEDED.value, response=response, answered_at=now)
        .returning(*table.c)
    ).first()
    return None if row is None else _rpc(row)
