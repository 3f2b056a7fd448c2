"""Use cases of second factors: a user's TOTP enrolment, and a tenant requiring it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection

from services.kit.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    Unauthenticated,
    VersionMismatch,
)
from services.registry.domain_people import User, new_totp_secret, otpauth_uri, totp_step
from services.registry.queries import people as queries
from services.registry.usecases import Clock, UnitOfWorkFactory, utc_now
from services.registry.usecases.people_access import Acting, Actor, acting, administered_tenant, target_user
from services.registry.usecases.people_sessions import WRONG_CODE


@dataclass(frozen=True)
class Enrolment:
    secret: str
    otpauth_uri: str


def _person(by: Acting) -> User:
    if by.user is None:
        raise InvalidArgument([FieldViolation("actor", "a user enrols, not the operator token")])
    return by.user


class TwoFactor:
    def __init__(self, unit_of_work: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock

    def start_enrolment(self, actor: Actor) -> Enrolment:
        """A new secret for the actor, effective once a first code confirms it."""
        with self._unit_of_work() as uow:
            user = _person(acting(uow.connection, actor))
            if user.totp_confirmed:
                raise FailedPrecondition("two-factor is enrolled already")
            secret = new_totp_secret()
            self._save(uow.connection, user, totp_secret=secret, totp_last_step=None)
            uow.commit()
        return Enrolment(secret, otpauth_uri(secret, user.email))

    def confirm_enrolment(self, actor: Actor, code: str) -> User:
        now = self._clock()
        with self._unit_of_work() as uow:
            user = _person(acting(uow.connection, actor))
            if user.totp_confirmed or user.totp_secret is None:
                raise FailedPrecondition("start an enrolment first")
            step = totp_step(user.totp_secret, code, now, user.totp_last_step)
            if step is None:
                raise Unauthenticated(WRONG_CODE)
            updated = self._save(uow.connection, user, totp_confirmed=True, totp_last_step=step)
            uow.commit()
        return updated

    def reset(self, actor: Actor, user_id: str) -> User:
        """Clears a user's second factor (a lost authenticator) and ends their sessions."""
        with self._unit_of_work() as uow:
            by = acting(uow.connection, actor)
            user = target_user(uow.connection, user_id, administered_tenant(by, "reset two-factor"))
            updated = self._save(
                uow.connection, user, totp_secret=None, totp_confirmed=False, totp_last_step=None
            )
            queries.end_user_sessions(uow.connection, user.id, self._clock())
            uow.commit()
        return updated

    def set_required(self, actor: Actor, required: bool) -> tuple[str, bool]:
        with self._unit_of_work() as uow:
            tenant_id = administered_tenant(acting(uow.connection, actor), "require two-factor")
            if tenant_id is None:
                raise InvalidArgument(
                    [FieldViolation("actor", "an admin of the tenant decides, not the operator")]
                )
            queries.set_two_factor_required(uow.connection, tenant_id, required)
            uow.commit()
        return tenant_id, required

    def _save(self, connection: Connection, user: User, **changes: Any) -> User:
        updated = replace(user, **changes, version=user.version + 1, updated_at=self._clock())
        if not queries.save_user(connection, updated, user.version):
            raise VersionMismatch("user changed meanwhile; try again")
        return updated
