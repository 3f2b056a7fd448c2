"""Queries of users, their sessions, failed sign-ins, one-time tokens and tenants' security."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select, tuple_, update

from services.kit.db import upsert
from services.registry.domain import TenantStatus
from services.registry.domain_people import Role, TokenPurpose, User, UserSession, UserStatus
from services.registry.storage import (
    one_time_tokens,
    sign_in_failures,
    tenant_security,
    tenants,
    user_sessions,
    users,
)


def _user(row: Any) -> User:
    values = {column.name: row._mapping[column] for column in users.c}
    return User(**{**values, "role": Role(values["role"]), "status": UserStatus(values["status"])})


def _user_row(user: User) -> dict[str, Any]:
    return {**vars(user), "role": user.role.value, "status": user.status.value}


def _with_tenant_status(row: Any) -> tuple[User, TenantStatus | None]:
    return _user(row), TenantStatus(row.tenant_status) if row.tenant_status else None


def _users_and_tenants() -> Any:
    """Users with their tenant's status (None for operators)."""
    joined = users.outerjoin(tenants, tenants.c.id == users.c.tenant_id)
    return select(users, tenants.c.status.label("tenant_status")).select_from(joined)


def add_user(connection: Connection, user: User) -> None:
    connection.execute(insert(users).values(_user_row(user)))


def find_user(connection: Connection, user_id: str) -> tuple[User, TenantStatus | None] | None:
    row = connection.execute(_users_and_tenants().where(users.c.id == user_id)).first()
    return _with_tenant_status(row) if row else None


def find_user_by_email(connection: Connection, email: str) -> tuple[User, TenantStatus | None] | None:
    row = connection.execute(_users_and_tenants().where(users.c.email == email)).first()
    return _with_tenant_status(row) if row else None


def email_taken(connection: Connection, email: str) -> bool:
    return connection.execute(select(users.c.id).where(users.c.email == email)).first() is not None


def save_user(connection: Connection, user: User, expected_version: int) -> bool:
    """Stores a changed user if it is still at `expected_version`."""
    values = {k: v for k, v in _user_row(user).items() if k not in ("id", "created_at", "tenant_id")}
    result = connection.execute(
        update(users).where(users.c.id == user.id, users.c.version == expected_version).values(values)
    )
    return result.rowcount == 1


def set_password_hash(connection: Connection, user_id: str, password_hash: str) -> None:
    """A rehash of the same password: not a change of the user, so no new version."""
    connection.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))


def accept_totp_step(connection: Connection, user_id: str, step: int) -> bool:
    """Records a TOTP step as used unless it, or a later one, was; True when this call did."""
    result = connection.execute(
        update(users)
        .where(users.c.id == user_id, or_(users.c.totp_last_step.is_(None), users.c.totp_last_step < step))
        .values(totp_last_step=step)
    )
    return result.rowcount == 1


def list_users(
    connection: Connection, tenant_id: str, after: tuple[datetime, str] | None, limit: int
) -> list[User]:
    conditions = [users.c.tenant_id == tenant_id]
    if after is not None:
        conditions.append(tuple_(users.c.created_at, users.c.id) > after)
    query = select(users).where(*conditions).order_by(users.c.created_at, users.c.id).limit(limit)
    return [_user(row) for row in connection.execute(query)]


def count_users(connection: Connection, tenant_id: str) -> int:
    query = select(func.count()).select_from(users).where(users.c.tenant_id == tenant_id)
    return connection.execute(query).scalar_one()


def add_session(connection: Connection, session: UserSession, token_hash: str) -> None:
    connection.execute(insert(user_sessions).values({**vars(session), "token_hash": token_hash}))


def find_session(
    connection: Connection, token_hash: str
) -> tuple[UserSession, User, TenantStatus | None] | None:
    """A session not signed out, with its user and the user's tenant's status."""
    sessions = user_sessions.join(users, users.c.id == user_sessions.c.user_id).outerjoin(
        tenants, tenants.c.id == users.c.tenant_id
    )
    query = (
        select(
            users,
            tenants.c.status.label("tenant_status"),
            *[column.label(f"session_{column.name}") for column in user_sessions.c],
        )
        .select_from(sessions)
        .where(user_sessions.c.token_hash == token_hash, user_sessions.c.ended_at.is_(None))
    )
    row = connection.execute(query).first()
    if row is None:
        return None
    session = UserSession(
        **{name: row._mapping[f"session_{name}"] for name in UserSession.__dataclass_fields__}
    )
    user, tenant_status = _with_tenant_status(row)
    return session, user, tenant_status


def touch_session(connection: Connection, session_id: str, now: datetime) -> None:
    connection.execute(update(user_sessions).where(user_sessions.c.id == session_id).values(last_used_at=now))


def end_session(connection: Connection, token_hash: str, now: datetime) -> int:
    result = connection.execute(
        update(user_sessions)
        .where(user_sessions.c.token_hash == token_hash, user_sessions.c.ended_at.is_(None))
        .values(ended_at=now)
    )
    return result.rowcount


def end_user_sessions(connection: Connection, user_id: str, now: datetime) -> int:
    result = connection.execute(
        update(user_sessions)
        .where(user_sessions.c.user_id == user_id, user_sessions.c.ended_at.is_(None))
        .values(ended_at=now)
    )
    return result.rowcount


def record_failure(connection: Connection, kind: str, subject: str, now: datetime) -> None:
    values = {"id": str(uuid.uuid4()), "kind": kind, "subject": subject, "failed_at": now}
    connection.execute(insert(sign_in_failures).values(values))


def recent_failures(
    connection: Connection, kind: str, subject: str, since: datetime, limit: int
) -> list[datetime]:
    """The times of the latest failures after `since`, newest first."""
    query = (
        select(sign_in_failures.c.failed_at)
        .where(
            sign_in_failures.c.kind == kind,
            sign_in_failures.c.subject == subject,
            sign_in_failures.c.failed_at > since,
        )
        .order_by(sign_in_failures.c.failed_at.desc())
        .limit(limit)
    )
    return list(connection.execute(query).scalars())


def forget_failures(connection: Connection, kind: str, subject: str) -> None:
    connection.execute(
        delete(sign_in_failures).where(sign_in_failures.c.kind == kind, sign_in_failures.c.subject == subject)
    )


def add_token(connection: Connection, row: dict[str, Any]) -> None:
    connection.execute(insert(one_time_tokens).values(row))


def find_token(connection: Connection, purpose: TokenPurpose, token_hash: str, now: datetime) -> Any:
    """A token of `purpose` neither used nor expired, as a row; None otherwise."""
    query = select(one_time_tokens).where(
        one_time_tokens.c.token_hash == token_hash,
        one_time_tokens.c.purpose == purpose.value,
        one_time_tokens.c.used_at.is_(None),
        one_time_tokens.c.expires_at > now,
    )
    return connection.execute(query).first()


def use_token(connection: Connection, token_id: str, now: datetime) -> bool:
    """Marks a token used unless it already is; True when this call did (once only)."""
    result = connection.execute(
        update(one_time_tokens)
        .where(one_time_tokens.c.id == token_id, one_time_tokens.c.used_at.is_(None))
        .values(used_at=now)
    )
    return result.rowcount == 1


def two_factor_required(connection: Connection, tenant_id: str | None) -> bool:
    if tenant_id is None:
        return False
    query = select(tenant_security.c.two_factor_required).where(tenant_security.c.tenant_id == tenant_id)
    return bool(connection.execute(query).scalar())


def set_two_factor_required(connection: Connection, tenant_id: str, required: bool) -> None:
    upsert(connection, tenant_security, {"tenant_id": tenant_id, "two_factor_required": required})


def prune(
    connection: Connection,
    now: datetime,
    idle_before: datetime,
    created_before: datetime,
    failures_before: datetime,
) -> int:
    """Deletes expired tokens, old failures, and sessions ended, idle since `idle_before` or
    created before `created_before`."""
    deleted = connection.execute(delete(one_time_tokens).where(one_time_tokens.c.expires_at <= now)).rowcount
    deleted += connection.execute(
        delete(sign_in_failures).where(sign_in_failures.c.failed_at <= failures_before)
    ).rowcount
    deleted += connection.execute(
        delete(user_sessions).where(
            or_(
                user_sessions.c.ended_at.is_not(None),
                user_sessions.c.last_used_at <= idle_before,
                user_sessions.c.created_at <= created_before,
            )
        )
    ).rowcount
    return deleted
