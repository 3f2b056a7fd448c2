"""Use cases of device credentials: access tokens, several valid at once so that a device
can rotate its token, and their authentication."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from services.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, Unauthenticated
from services.kit.events import new_event
from services.kit.validation import require_uuid
from services.registry.domain import (
    DEVICE_TOKEN_PREFIX,
    DeviceCredential,
    DeviceState,
    IssuedSecret,
    TenantStatus,
    hash_secret,
    issue_secret,
)
from services.registry.queries import credentials as queries
from services.registry.queries.credentials import CredentialHolder, add_credentials
from services.registry.usecases import Clock, UnitOfWorkFactory, utc_now
from services.registry.usecases.cache import EvictingCache, Remembered, parsed, verified

# One answer for every failure, so that a caller learns nothing of which check failed.
REFUSED = "invalid access token"


@dataclass(frozen=True)
class DeviceIdentity:
    device_id: str
    tenant_id: str
    credential_id: str
    profile_id: str
    profile_version: int
    state: DeviceState


class Credentials:
    def __init__(
        self, unit_of_work: UnitOfWorkFactory, clock: Clock = utc_now, cache: EvictingCache | None = None
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        # Without a cache of its own to keep fresh, nothing is served from memory.
        self._cache = cache if cache is not None else EvictingCache()

    def issue(
        self, tenant_id: str, device_id: str, valid_from: datetime | None, valid_until: datetime | None
    ) -> tuple[DeviceCredential, IssuedSecret]:
        """Another access token of a device, valid from `valid_from` (or now) until `valid_until` (or revoked)."""
        tenant_id, device_id = require_uuid(tenant_id, "tenant_id"), require_uuid(device_id, "device_id")
        now = self._clock()
        _check_window(valid_from, valid_until, now)
        secret = issue_secret(DEVICE_TOKEN_PREFIX, str(uuid.uuid4()))
        credential = DeviceCredential(
            secret.id, tenant_id, device_id, secret.secret_hash, now, valid_from, valid_until
        )
        with self._unit_of_work() as uow:
            if _require_device(uow.connection, tenant_id, device_id) is DeviceState.DECOMMISSIONED:
                raise FailedPrecondition("a decommissioned device gets no credentials")
            add_credentials(uow.connection, [credential])
            uow.commit()
        return credential, secret

    def list(self, tenant_id: str, device_id: str) -> list[DeviceCredential]:
        """Every credential of a device, revoked ones included, oldest first."""
        tenant_id, device_id = require_uuid(tenant_id, "tenant_id"), require_uuid(device_id, "device_id")
        with self._unit_of_work(read_only=True) as uow:
            _require_device(uow.connection, tenant_id, device_id)
            return queries.device_credentials_of(uow.connection, tenant_id, device_id)

    def revoke(self, tenant_id: str, device_id: str, credential_id: str) -> DeviceCredential:
        """Revokes a credential; one revoked already stays as it was."""
        tenant_id, device_id = require_uuid(tenant_id, "tenant_id"), require_uuid(device_id, "device_id")
        credential_id = require_uuid(credential_id, "credential_id")
        now = self._clock()
        with self._unit_of_work() as uow:
            if queries.revoke_credential(uow.connection, tenant_id, device_id, credential_id, now):
                data = {"credential_id": credential_id, "device_id": device_id}
                uow.emit(new_event("credential.revoked", tenant_id, data))
            credential = queries.find_credential(uow.connection, tenant_id, device_id, credential_id)
            if credential is None:
                raise NotFound("credential not found")
            uow.commit()
        self._cache.forget(credential_id)
        return credential

    def authenticate(self, presented: str) -> DeviceIdentity:
        """Who a device access token identifies; Unauthenticated unless it is usable now."""
        now = self._clock()
        if presented.startswith(DEVICE_TOKEN_PREFIX + "_"):
            credential_id, secret = parsed(DEVICE_TOKEN_PREFIX, presented, REFUSED)
            find = functools.partial(queries.find_holder, credential_id=credential_id)
        else:  # a token the device chose as it provisioned itself
            secret = presented
            find = functools.partial(queries.find_holder_by_hash, secret_hash=hash_secret(presented))

        def look_up() -> Remembered[DeviceIdentity]:
            with self._unit_of_work(read_only=True) as uow:
                holder = find(uow.connection)
            matched = verified(holder.credential.secret_hash if holder else None, secret)
            if holder is None or not matched or not _admits(holder, now):
                raise Unauthenticated(REFUSED)
            return _authenticated(holder)

        return self._cache.remembered(presented, DeviceIdentity, now, look_up)


def _require_device(connection: Connection, tenant_id: str, device_id: str) -> DeviceState:
    """The state of the tenant's device; NotFound when the tenant has no such device."""
    state = queries.device_state(connection, tenant_id, device_id)
    if state is None:
        raise NotFound("device not found")
    return state


def _check_window(valid_from: datetime | None, valid_until: datetime | None, now: datetime) -> None:
    if valid_until is None:
        return
    if valid_until <= now:
        raise InvalidArgument([FieldViolation("valid_until", "must be in the future")])
    if valid_from is not None and valid_until <= valid_from:
        raise InvalidArgument([FieldViolation("valid_until", "must be after valid_from")])


def _admits(holder: CredentialHolder, now: datetime) -> bool:
    """Whether a credential authenticates now; a suspended device does, and learns its state."""
    return (
        holder.credential.usable_at(now)
        and holder.device_state is not DeviceState.DECOMMISSIONED
        and holder.tenant_status is TenantStatus.ACTIVE
    )


def _authenticated(holder: CredentialHolder) -> Remembered[DeviceIdentity]:
    credential = holder.credential
    identity = DeviceIdentity(
        credential.device_id,
        credential.tenant_id,
        credential.id,
        holder.profile_id,
        holder.profile_version,
        holder.device_state,
    )
    depends_on = (credential.tenant_id, credential.device_id, credential.id)
    return Remembered(identity, depends_on, credential.valid_until)
