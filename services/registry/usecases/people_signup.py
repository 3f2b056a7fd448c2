"""Use cases of companies signing up by themselves: started, confirmed by the token the
console e-mails, approved or rejected by the operator where the platform asks that; and
the pruning of what people leave behind."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from services.kit.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Throttled,
    Unauthenticated,
)
from services.kit.pagination import decode_cursor, keyset_page, page_size, time_and_id
from services.kit.validation import load, require_uuid
from services.registry.domain import IssuedSecret, Tenant
from services.registry.domain_people import (
    SESSION_ABSOLUTE,
    SESSION_IDLE,
    SIGN_UP_VALID,
    Role,
    SignUpMode,
    SignUpPolicy,
    SignUpStatus,
    User,
    email_domain,
    hash_password,
    new_token,
    normalise_email,
    token_hash,
)
from services.registry.queries import people as people_queries
from services.registry.queries import sign_ups as queries
from services.registry.usecases import Clock, UnitOfWorkFactory, utc_now
from services.registry.usecases.people import add_user, created_and_id, new_user
from services.registry.usecases.people_access import Actor, acting, require_operator
from services.registry.usecases.people_input import (
    address_violations,
    person_violations,
    presented_token,
    require,
)
from services.registry.usecases.tenants import TenantSchema, add_new_tenant

SIGN_UP_REFUSED = "sign-up is invalid or expired"
THROTTLED = "too many sign-ups from here of late; try again later"
# Failed sign-ins are kept this long: longer than any throttle's window.
FAILURES_KEPT = timedelta(days=1)


class SignUpThrottled(Throttled):
    reason = "SIGN_UP_THROTTLED"


@dataclass(frozen=True)
class SignUp:
    id: str
    company_name: str
    country: str
    size_class: str
    admin_email: str
    admin_name: str
    status: SignUpStatus
    created_at: datetime
    expires_at: datetime
    tenant_id: str | None
    # Shown only when started.
    confirmation_token: str = ""


@dataclass(frozen=True)
class Completed:
    """A confirmed sign-up: its tenant, admin and first API key once created."""

    sign_up: SignUp
    tenant: Tenant | None = None
    admin: User | None = None
    api_key: IssuedSecret | None = None


def _sign_up(row: Any, **changes: Any) -> SignUp:
    values = {
        name: row._mapping[name] for name in SignUp.__dataclass_fields__ if name != "confirmation_token"
    }
    return SignUp(**{**values, "status": SignUpStatus(values["status"]), **changes})


class SignUps:
    def __init__(self, unit_of_work: UnitOfWorkFactory, policy: SignUpPolicy, clock: Clock = utc_now) -> None:
        self._unit_of_work = unit_of_work
        self._policy = policy
        self._clock = clock

    def start(self, request: dict[str, Any]) -> SignUp:
        """A pending sign-up and its confirmation token, valid 24 hours."""
        self._open()
        company, violations = _company(request)
        violations += person_violations(
            request["admin_email"], request["admin_name"], request["password"], "admin_"
        )
        require(violations + address_violations(request["client_address"]))
        email = normalise_email(request["admin_email"])
        now = self._clock()
        password_hash = hash_password(request["password"])
        token = new_token()
        row = {
            "id": str(uuid.uuid4()),
            "company_name": company["name"],
            "country": company["country"],
            "size_class": company["size_class"].value,
            "admin_email": email,
            "admin_name": request["admin_name"],
            "password_hash": password_hash,
            "client_address": request["client_address"],
            "email_domain": email_domain(email),
            "status": SignUpStatus.PENDING.value,
            "created_at": now,
            "expires_at": now + SIGN_UP_VALID,
            "tenant_id": None,
        }
        with self._unit_of_work() as uow:
            # Whether a user has the e-mail is told only at confirmation, to whoever holds
            # the token mailed to it: starting a sign-up reveals no one's account.
            self._check_throttles(uow.connection, row, now)
            queries.add_sign_up(uow.connection, {**row, "token_hash": token_hash(token)})
            uow.commit()
        return SignUp(
            **{k: row[k] for k in SignUp.__dataclass_fields__ if k in row}, confirmation_token=token
        )

    def confirm(self, token: str) -> Completed:
        """Completes a sign-up in open mode; in approval mode it then awaits the operator."""
        self._open()
        now = self._clock()
        with self._unit_of_work() as uow:
            hashed = token_hash(presented_token(token, SIGN_UP_REFUSED))
            row = queries.find_pending(uow.connection, hashed, now)
            if row is None:
                raise Unauthenticated(SIGN_UP_REFUSED)
            if self._policy.mode is SignUpMode.APPROVAL:
                if not queries.move(
                    uow.connection, row.id, SignUpStatus.PENDING, SignUpStatus.AWAITING_APPROVAL
                ):
                    raise Unauthenticated(SIGN_UP_REFUSED)
                completed = Completed(_sign_up(row, status=SignUpStatus.AWAITING_APPROVAL))
            else:
                completed = _complete(uow, row, SignUpStatus.PENDING, now)
            uow.commit()
        return completed

    def approve(self, actor: Actor, sign_up_id: str) -> Completed:
        now = self._clock()
        with self._unit_of_work() as uow:
            row = self._awaiting(uow.connection, actor, sign_up_id, "approve sign-ups")
            completed = _complete(uow, row, SignUpStatus.AWAITING_APPROVAL, now)
            uow.commit()
        return completed

    def reject(self, actor: Actor, sign_up_id: str) -> SignUp:
        with self._unit_of_work() as uow:
            row = self._awaiting(uow.connection, actor, sign_up_id, "reject sign-ups")
            if not queries.move(
                uow.connection, row.id, SignUpStatus.AWAITING_APPROVAL, SignUpStatus.REJECTED
            ):
                raise FailedPrecondition("the sign-up was decided meanwhile")
            uow.commit()
        return _sign_up(row, status=SignUpStatus.REJECTED)

    def list(
        self, actor: Actor, status: SignUpStatus | None, size: int, cursor: str
    ) -> tuple[list[SignUp], str, int]:
        limit = page_size(size)
        listing = {"list": "sign_ups", "status": str(status or "")}
        after = time_and_id(decode_cursor(cursor, listing))
        with self._unit_of_work(read_only=True) as uow:
            require_operator(acting(uow.connection, actor), "list sign-ups")
            found = queries.list_sign_ups(uow.connection, status, after, limit + 1)
            total = queries.count_sign_ups(uow.connection, status)
        page, next_cursor = keyset_page(found, limit, created_and_id, listing)
        return [_sign_up(row) for row in page], next_cursor, total

    def prune(self) -> int:
        """Deletes abandoned sign-ups (no tenant was ever made of them), expired tokens,
        ended or expired sessions and old failed sign-ins; how many rows went."""
        now = self._clock()
        with self._unit_of_work() as uow:
            deleted = queries.prune_abandoned(uow.connection, now)
            deleted += people_queries.prune(
                uow.connection,
                now,
                idle_before=now - SESSION_IDLE,
                created_before=now - SESSION_ABSOLUTE,
                failures_before=now - FAILURES_KEPT,
            )
            uow.commit()
        return deleted

    def _open(self) -> None:
        if self._policy.mode is SignUpMode.CLOSED:
            raise FailedPrecondition("sign-up is closed; ask the platform's operator")

    def _awaiting(self, connection: Connection, actor: Actor, sign_up_id: str, action: str) -> Any:
        require_operator(acting(connection, actor), action)
        row = queries.find_sign_up(connection, require_uuid(sign_up_id, "sign_up_id"))
        if row is None:
            raise NotFound("sign-up not found")
        if row.status != SignUpStatus.AWAITING_APPROVAL.value:
            raise FailedPrecondition(f"the sign-up is {row.status}, not awaiting approval")
        return row

    def _check_throttles(self, connection: Connection, row: dict[str, Any], now: datetime) -> None:
        for throttle, column in (
            (self._policy.per_address, "client_address"),
            (self._policy.per_domain, "email_domain"),
        ):
            recent = queries.recent_starts(
                connection, column, row[column], now - throttle.window, throttle.limit
            )
            wait = throttle.retry_after(recent, now)
            if wait is not None:
                raise SignUpThrottled(THROTTLED, wait)


def _company(request: dict[str, Any]) -> tuple[dict[str, Any], list[FieldViolation]]:
    """The company of a sign-up checked as a tenant's fields are, and what is wrong with it."""
    fields = {
        "name": request["company_name"],
        "country": request["country"],
        "size_class": request["size_class"],
    }
    try:
        return load(TenantSchema(only=("name", "country", "size_class")), fields), []
    except InvalidArgument as error:
        renamed = {"name": "company_name"}
        return {}, [FieldViolation(renamed.get(v.field, v.field), v.description) for v in error.violations]


def _complete(uow: Any, row: Any, before: SignUpStatus, now: datetime) -> Completed:
    """The tenant (with its event and first key, as CreateTenant makes them) and its first
    admin, in the caller's transaction."""
    company = {"name": row.company_name, "country": row.country, "size_class": row.size_class}
    tenant, secret = add_new_tenant(uow, load(TenantSchema(exclude=("status",)), company), now)
    admin = new_user(tenant.id, row.admin_email, row.admin_name, row.password_hash, Role.ADMIN, now)
    add_user(uow.connection, admin)
    if not queries.move(uow.connection, row.id, before, SignUpStatus.COMPLETED, tenant.id):
        raise Unauthenticated(SIGN_UP_REFUSED)
    return Completed(_sign_up(row, status=SignUpStatus.COMPLETED, tenant_id=tenant.id), tenant, admin, secret)
