"""Queries of companies' self sign-ups."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, tuple_, update

from services.registry.domain_people import SignUpStatus
from services.registry.storage import sign_ups


def add_sign_up(connection: Connection, row: dict[str, Any]) -> None:
    connection.execute(insert(sign_ups).values(row))


def find_pending(connection: Connection, token_hash: str, now: datetime) -> Any:
    """The pending, unexpired sign-up of a confirmation token, as a row; None otherwise."""
    query = select(sign_ups).where(
        sign_ups.c.token_hash == token_hash,
        sign_ups.c.status == SignUpStatus.PENDING.value,
        sign_ups.c.expires_at > now,
    )
    return connection.execute(query).first()


def find_sign_up(connection: Connection, sign_up_id: str) -> Any:
    return connection.execute(select(sign_ups).where(sign_ups.c.id == sign_up_id)).first()


def move(
    connection: Connection,
    sign_up_id: str,
    before: SignUpStatus,
    after: SignUpStatus,
    tenant_id: str | None = None,
) -> bool:
    """Moves a sign-up from `before` to `after` unless another call moved it first."""
    result = connection.execute(
        update(sign_ups)
        .where(sign_ups.c.id == sign_up_id, sign_ups.c.status == before.value)
        .values(status=after.value, tenant_id=tenant_id)
    )
    return result.rowcount == 1


def recent_starts(
    connection: Connection, column: str, value: str, since: datetime, limit: int
) -> list[datetime]:
    """When the latest sign-ups of a client address or e-mail domain started, newest first."""
    query = (
        select(sign_ups.c.created_at)
        .where(sign_ups.c[column] == value, sign_ups.c.created_at > since)
        .order_by(sign_ups.c.created_at.desc())
        .limit(limit)
    )
    return list(connection.execute(query).scalars())


def list_sign_ups(
    connection: Connection, status: SignUpStatus | None, after: tuple[datetime, str] | None, limit: int
) -> list[Any]:
    conditions = [] if status is None else [sign_ups.c.status == status.value]
    if after is not None:
        conditions.append(tuple_(sign_ups.c.created_at, sign_ups.c.id) > after)
    query = select(sign_ups).where(*conditions).order_by(sign_ups.c.created_at, sign_ups.c.id).limit(limit)
    return list(connection.execute(query))


def count_sign_ups(connection: Connection, status: SignUpStatus | None) -> int:
    conditions = [] if status is None else [sign_ups.c.status == status.value]
    return connection.execute(select(func.count()).select_from(sign_ups).where(*conditions)).scalar_one()


def prune_abandoned(connection: Connection, now: datetime) -> int:
    """Deletes the pending sign-ups whose confirmation expired: they never made a tenant."""
    result = connection.execute(
        delete(sign_ups).where(sign_ups.c.status == SignUpStatus.PENDING.value, sign_ups.c.expires_at <= now)
    )
    return result.rowcount
