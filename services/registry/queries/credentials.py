"""Queries of device credentials."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from services.registry.domain import DeviceCredential, DeviceState, TenantStatus
from services.registry.storage import device_credentials, devices, tenants


@dataclass(frozen=True)
class CredentialHolder:
    """A credential with what authenticating it needs to know of its device and tenant."""

    credential: DeviceCredential
    profile_id: str
    profile_version: int
    device_state: DeviceState
    tenant_status: TenantStatus


def _credential(row: Any) -> DeviceCredential:
    return DeviceCredential(**{column.name: row._mapping[column] for column in device_credentials.c})


def add_credentials(connection: Connection, credentials: list[DeviceCredential]) -> None:
    if credentials:
        connection.execute(insert(device_credentials), [vars(c) for c in credentials])


def device_state(connection: Connection, tenant_id: str, device_id: str) -> DeviceState | None:
    """The state of a tenant's device; None when the tenant has no such device."""
    query = select(devices.c.state).where(devices.c.id == device_id, devices.c.tenant_id == tenant_id)
    state = connection.execute(query).scalar_one_or_none()
    return DeviceState(state) if state else None


def device_credentials_of(connection: Connection, tenant_id: str, device_id: str) -> list[DeviceCredential]:
    query = select(device_credentials).where(
        device_credentials.c.device_id == device_id, device_credentials.c.tenant_id == tenant_id
    )
    rows = connection.execute(query.order_by(device_credentials.c.created_at, device_credentials.c.id))
    return [_credential(row) for row in rows]


def find_credential(
    connection: Connection, tenant_id: str, device_id: str, credential_id: str
) -> DeviceCredential | None:
    query = select(device_credentials).where(
        device_credentials.c.id == credential_id,
        device_credentials.c.device_id == device_id,
        device_credentials.c.tenant_id == tenant_id,
    )
    row = connection.execute(query).first()
    return _credential(row) if row else None


def revoke_credential(
    connection: Connection, tenant_id: str, device_id: str, credential_id: str, now: datetime
) -> bool:
    """Revokes a device's credential unless it already is; True when this call revoked it."""
    result = connection.execute(
        update(device_credentials)
        .where(
            device_credentials.c.id == credential_id,
            device_credentials.c.device_id == device_id,
            device_credentials.c.tenant_id == tenant_id,
            device_credentials.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return result.rowcount == 1


def find_holder(connection: Connection, credential_id: str) -> CredentialHolder | None:
    """A credential with its device and tenant, whichever tenant that is: for authentication only."""
    return _holder(connection, device_credentials.c.id == credential_id)


def find_holder_by_hash(connection: Connection, secret_hash: str) -> CredentialHolder | None:
    """The credential of a token a device chose (its hash), with its device and tenant."""
    return _holder(connection, device_credentials.c.secret_hash == secret_hash)


def _holder(connection: Connection, condition: Any) -> CredentialHolder | None:
    query = (
        select(
            device_credentials,
            devices.c.profile_id,
            devices.c.profile_version,
            devices.c.state,
            tenants.c.status,
        )
        .join(
            devices,
            (devices.c.id == device_credentials.c.device_id)
            & (devices.c.tenant_id == device_credentials.c.tenant_id),
        )
        .join(tenants, tenants.c.id == device_credentials.c.tenant_id)
        .where(condition)
    )
    row = connection.execute(query).first()
    if row is None:
        return None
    return CredentialHolder(
        _credential(row),
        row.profile_id,
        row.profile_version,
        DeviceState(row.state),
        TenantStatus(row.status),
    )
