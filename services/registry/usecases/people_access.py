"""Who acts in a people call, and what they may do: the rules every use case of people
applies before it reads or changes anything."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from services.kit.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from services.kit.validation import require_uuid
from services.registry.domain import TenantStatus
from services.registry.domain_people import Role, User, UserStatus
from services.registry.queries import people as queries

CANNOT_ACT = "the acting user cannot act"
USER_NOT_FOUND = "user not found"


@dataclass(frozen=True)
class Actor:
    """Who a call says acts: the operator (token), or a user of a tenant ("" for an operator person)."""

    operator: bool = False
    tenant_id: str = ""
    user_id: str = ""


@dataclass(frozen=True)
class Acting:
    """The actor as found now: the operator token (no user), or an active user."""

    user: User | None

    @property
    def is_operator(self) -> bool:
        return self.user is None or self.user.role is Role.OPERATOR

    @property
    def tenant_id(self) -> str | None:
        return None if self.user is None else self.user.tenant_id


def usable(user: User, tenant_status: TenantStatus | None) -> bool:
    """Whether a user may act: active, and of an active tenant unless an operator."""
    tenant_active = user.tenant_id is None or tenant_status is TenantStatus.ACTIVE
    return user.status is UserStatus.ACTIVE and tenant_active


def acting(connection: Connection, actor: Actor) -> Acting:
    """The actor, loaded again on every call so that a disabled user acts no more."""
    if actor.operator:
        if actor.user_id or actor.tenant_id:
            raise InvalidArgument([FieldViolation("actor", "either the operator or a user, not both")])
        return Acting(None)
    user_id = require_uuid(actor.user_id, "actor.user_id")
    found = queries.find_user(connection, user_id)
    if found is None or not usable(*found) or (found[0].tenant_id or "") != actor.tenant_id:
        raise Unauthenticated(CANNOT_ACT)
    return Acting(found[0])


def administered_tenant(actor: Acting, action: str) -> str | None:
    """The tenant whose people the actor administers; None for the operator (every tenant).
    PermissionDenied for a role other than admin."""
    if actor.is_operator:
        return None
    assert actor.user is not None
    if actor.user.role is not Role.ADMIN:
        raise PermissionDenied(f"only a tenant's admin may {action}")
    return actor.user.tenant_id


def require_operator(actor: Acting, action: str) -> None:
    if not actor.is_operator:
        raise PermissionDenied(f"only the operator may {action}")


def target_user(connection: Connection, user_id: str, tenant_id: str | None) -> User:
    """A user of `tenant_id` (of any tenant when None); NotFound for another tenant's."""
    user_id = require_uuid(user_id, "user_id")
    found = queries.find_user(connection, user_id)
    if found is None or (tenant_id is not None and found[0].tenant_id != tenant_id):
        raise NotFound(USER_NOT_FOUND)
    return found[0]


def not_themselves(actor: Acting, user: User, action: str) -> None:
    """Admins do not change their own role or status, so that a tenant keeps an admin."""
    if actor.user is not None and actor.user.id == user.id:
        raise FailedPrecondition(f"admins cannot {action} themselves; another admin may")
