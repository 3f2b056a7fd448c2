"""Use cases of people: operators, invitations, a tenant's users (read, disabled, given
another role), password resets."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from services.kit.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Unauthenticated,
    VersionMismatch,
)
from services.kit.pagination import decode_cursor, keyset_page, page_size, time_and_id
from services.kit.validation import require_uuid
from services.registry.domain_people import (
    INVITATION_VALID,
    PASSWORD_RESET_VALID,
    Role,
    TokenPurpose,
    User,
    UserStatus,
    email_violations,
    hash_password,
    new_token,
    normalise_email,
    password_violations,
    token_hash,
)
from services.registry.queries import people as queries
from services.registry.queries import tenant_exists
from services.registry.usecases import Clock, UnitOfWorkFactory, utc_now
from services.registry.usecases.people_access import (
    Acting,
    Actor,
    acting,
    administered_tenant,
    not_themselves,
    require_operator,
    target_user,
)
from services.registry.usecases.people_input import (
    name_violations,
    new_person,
    presented_token,
    require,
    role_violations,
)

INVITATION_REFUSED = "invitation is invalid or expired"
RESET_REFUSED = "password reset is invalid or expired"
EMAIL_TAKEN = "a user with this e-mail exists"


@dataclass(frozen=True)
class IssuedToken:
    """A one-time token, shown only when issued, and what it stands for."""

    id: str
    token: str
    tenant_id: str | None
    user_id: str | None
    email: str
    name: str
    role: Role
    expires_at: datetime


def new_user(
    tenant_id: str | None, email: str, name: str, password_hash: str, role: Role, now: datetime
) -> User:
    return User(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        email=email,
        name=name,
        password_hash=password_hash,
        role=role,
        status=UserStatus.ACTIVE,
        version=1,
        created_at=now,
        updated_at=now,
    )


def add_user(connection: Connection, user: User) -> None:
    if queries.email_taken(connection, user.email):
        raise AlreadyExists(EMAIL_TAKEN)
    queries.add_user(connection, user)


def issue_token(connection: Connection, purpose: TokenPurpose, issued: dict[str, Any]) -> IssuedToken:
    """Stores a one-time token's hash with what it stands for; the token itself is returned once."""
    token = new_token()
    row = {"id": str(uuid.uuid4()), "purpose": purpose.value, **issued}
    queries.add_token(connection, {**row, "token_hash": token_hash(token), "used_at": None})
    return IssuedToken(
        row["id"],
        token,
        row["tenant_id"],
        row["user_id"],
        row["email"],
        row["name"],
        Role(row["role"]),
        row["expires_at"],
    )


def user_token(
    connection: Connection, purpose: TokenPurpose, user: User, now: datetime, valid: timedelta
) -> IssuedToken:
    """A one-time token of an existing user, valid for `valid`."""
    issued = {"tenant_id": user.tenant_id, "user_id": user.id, "email": user.email, "name": user.name}
    return issue_token(
        connection, purpose, {**issued, "role": user.role.value, "created_at": now, "expires_at": now + valid}
    )


def created_and_id(item: Any) -> list[Any]:
    """The keyset position of an item of a list ordered by creation, then id."""
    return [item.created_at.isoformat(), item.id]


def take_token(connection: Connection, purpose: TokenPurpose, token: str, now: datetime, refusal: str) -> Any:
    """A usable token's row, marked used in the caller's transaction; Unauthenticated otherwise."""
    row = queries.find_token(connection, purpose, token_hash(presented_token(token, refusal)), now)
    if row is None or not queries.use_token(connection, row.id, now):
        raise Unauthenticated(refusal)
    return row


class People:
    def __init__(self, unit_of_work: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock

    def create_operator(self, actor: Actor, email: str, name: str, password: str) -> User:
        email = new_person(email, name, password)
        password_hash = hash_password(password)
        with self._unit_of_work() as uow:
            require_operator(acting(uow.connection, actor), "create operators")
            user = new_user(None, email, name, password_hash, Role.OPERATOR, self._clock())
            add_user(uow.connection, user)
            uow.commit()
        return user

    def invite(
        self, actor: Actor, email: str, name: str, role: Role | None, tenant_id: str = ""
    ) -> IssuedToken:
        """An invitation to the admin's tenant, or to the one the operator names, valid 72
        hours."""
        normalised = normalise_email(email)
        require(email_violations(normalised) + name_violations(name) + role_violations(role))
        assert role is not None
        now = self._clock()
        with self._unit_of_work() as uow:
            tenant_id = _invited_to(uow.connection, acting(uow.connection, actor), tenant_id)
            if queries.email_taken(uow.connection, normalised):
                raise AlreadyExists(EMAIL_TAKEN)
            issued = issue_token(
                uow.connection,
                TokenPurpose.INVITATION,
                {
                    "tenant_id": tenant_id,
                    "user_id": None,
                    "email": normalised,
                    "name": name,
                    "role": role.value,
                    "created_at": now,
                    "expires_at": now + INVITATION_VALID,
                },
            )
            uow.commit()
        return issued

    def accept_invitation(self, token: str, name: str, password: str) -> User:
        now = self._clock()
        with self._unit_of_work() as uow:
            invitation = take_token(uow.connection, TokenPurpose.INVITATION, token, now, INVITATION_REFUSED)
            name = name or invitation.name
            require(name_violations(name) + password_violations(password, invitation.email))
            user = new_user(
                invitation.tenant_id,
                invitation.email,
                name,
                hash_password(password),
                Role(invitation.role),
                now,
            )
            add_user(uow.connection, user)
            uow.commit()
        return user

    def get(self, actor: Actor, user_id: str) -> User:
        """A user of the actor's own tenant (any role may read it), or any for the operator."""
        with self._unit_of_work(read_only=True) as uow:
            by = acting(uow.connection, actor)
            return target_user(uow.connection, user_id, None if by.is_operator else by.tenant_id)

    def list(self, actor: Actor, tenant_id: str, size: int, cursor: str) -> tuple[list[User], str, int]:
        """A page of a tenant's users by creation, the cursor of the next page, and how many there are."""
        limit = page_size(size)
        with self._unit_of_work(read_only=True) as uow:
            by = acting(uow.connection, actor)
            if by.is_operator:
                tenant_id = require_uuid(tenant_id, "tenant_id")
            elif tenant_id and tenant_id != by.tenant_id:
                raise InvalidArgument([FieldViolation("tenant_id", "only the operator names a tenant")])
            else:
                tenant_id = by.tenant_id or ""
            listing = {"list": "users", "tenant": tenant_id}
            after = time_and_id(decode_cursor(cursor, listing))
            found = queries.list_users(uow.connection, tenant_id, after, limit + 1)
            total = queries.count_users(uow.connection, tenant_id)
        page, next_cursor = keyset_page(found, limit, created_and_id, listing)
        return page, next_cursor, total

    def set_status(
        self, actor: Actor, user_id: str, status: UserStatus | None, expected_version: int
    ) -> User:
        """Disables or enables a user; disabling ends every session of the user in the same commit."""
        if status is None:
            raise InvalidArgument([FieldViolation("status", "USER_STATUS_ACTIVE or USER_STATUS_DISABLED")])
        return self._change(actor, user_id, expected_version, "change the status of", {"status": status})

    def change_role(self, actor: Actor, user_id: str, role: Role | None, expected_version: int) -> User:
        """Gives a user another role; the user's sessions end, so that a new session holds the new role."""
        require(role_violations(role))
        return self._change(actor, user_id, expected_version, "change the role of", {"role": role})

    def _change(
        self, actor: Actor, user_id: str, expected_version: int, action: str, changes: dict[str, Any]
    ) -> User:
        if expected_version < 0:
            raise InvalidArgument([FieldViolation("expected_version", "0 (any) or the version you read")])
        now = self._clock()
        with self._unit_of_work() as uow:
            by = acting(uow.connection, actor)
            user = target_user(uow.connection, user_id, administered_tenant(by, f"{action} users"))
            not_themselves(by, user, action)
            if user.tenant_id is None and "role" in changes:
                raise FailedPrecondition("an operator's role does not change")
            if expected_version and user.version != expected_version:
                raise VersionMismatch(f"user is at version {user.version}, not {expected_version}")
            updated = replace(user, **changes, version=user.version + 1, updated_at=now)
            if not queries.save_user(uow.connection, updated, user.version):
                raise VersionMismatch("user changed meanwhile; read it again")
            if updated.role is not user.role or updated.status is UserStatus.DISABLED:
                queries.end_user_sessions(uow.connection, user.id, now)
            uow.commit()
        return updated

    def start_password_reset(self, actor: Actor, user_id: str) -> IssuedToken:
        now = self._clock()
        with self._unit_of_work() as uow:
            by = acting(uow.connection, actor)
            user = target_user(uow.connection, user_id, administered_tenant(by, "reset passwords"))
            issued = user_token(uow.connection, TokenPurpose.PASSWORD_RESET, user, now, PASSWORD_RESET_VALID)
            uow.commit()
        return issued

    def reset_password(self, token: str, password: str) -> User:
        """Sets the password of a reset, once, and ends every session of its user."""
        now = self._clock()
        with self._unit_of_work() as uow:
            reset = take_token(uow.connection, TokenPurpose.PASSWORD_RESET, token, now, RESET_REFUSED)
            found = queries.find_user(uow.connection, reset.user_id)
            if found is None:
                raise Unauthenticated(RESET_REFUSED)
            user = found[0]
            require(password_violations(password, user.email))
            updated = replace(
                user, password_hash=hash_password(password), version=user.version + 1, updated_at=now
            )
            if not queries.save_user(uow.connection, updated, user.version):
                raise VersionMismatch("user changed meanwhile; try again")
            queries.end_user_sessions(uow.connection, user.id, now)
            uow.commit()
        return updated


def _invited_to(connection: Connection, actor: Acting, named: str) -> str:
    """The tenant an invitation is to: the admin's own (naming another is NotFound, as any
    other tenant's object is), or the one the operator names."""
    administered = administered_tenant(actor, "invite users")
    if administered is not None:
        if named and named != administered:
            raise NotFound("tenant not found")
        return administered
    if not named:
        raise InvalidArgument([FieldViolation("tenant_id", "the operator names the tenant to invite to")])
    tenant_id = require_uuid(named, "tenant_id")
    if not tenant_exists(connection, tenant_id):
        raise NotFound("tenant not found")
    return tenant_id
