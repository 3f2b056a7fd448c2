"""Queries of tenants and their API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, func, insert, select, tuple_, update

from services.registry.domain import ApiKey, SizeClass, Tenant, TenantStatus
from services.registry.storage import api_keys, tenants


def _tenant(row: Any) -> Tenant:
    return Tenant(
        **{**row._mapping, "size_class": SizeClass(row.size_class), "status": TenantStatus(row.status)}
    )


def _tenant_row(tenant: Tenant) -> dict[str, Any]:
    return {**vars(tenant), "size_class": tenant.size_class.value, "status": tenant.status.value}


def _api_key(row: Any) -> ApiKey:
    values = {column.name: row._mapping[column] for column in api_keys.c}
    return ApiKey(**{**values, "scopes": tuple(values["scopes"])})


def _after(table: Table, after: tuple[datetime, str] | None) -> list[ColumnElement[bool]]:
    """The keyset condition of a list ordered by creation time, then id."""
    return [] if after is None else [tuple_(table.c.created_at, table.c.id) > after]


def add_tenant(connection: Connection, tenant: Tenant) -> None:
    connection.execute(insert(tenants).values(_tenant_row(tenant)))


def find_tenant(connection: Connection, tenant_id: str) -> Tenant | None:
    row = connection.execute(select(tenants).where(tenants.c.id == tenant_id)).first()
    return _tenant(row) if row else None


def _tenant_conditions(country: str, status: TenantStatus | None) -> list[ColumnElement[bool]]:
    conditions = []
    if country:
        conditions.append(tenants.c.country == country)
    if status is not None:
        conditions.append(tenants.c.status == status.value)
    return conditions


def list_tenants(
    connection: Connection,
    country: str,
    status: TenantStatus | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[Tenant]:
    conditions = _tenant_conditions(country, status) + _after(tenants, after)
    query = select(tenants).where(*conditions)
    rows = connection.execute(query.order_by(tenants.c.created_at, tenants.c.id).limit(limit))
    return [_tenant(row) for row in rows]


def count_tenants(connection: Connection, country: str, status: TenantStatus | None) -> int:
    query = select(func.count()).select_from(tenants).where(*_tenant_conditions(country, status))
    return connection.execute(query).scalar_one()


def save_tenant(connection: Connection, tenant: Tenant, expected_version: int) -> bool:
    """Stores a changed tenant if it is still at `expected_version`."""
    values = {k: v for k, v in _tenant_row(tenant).items() if k not in ("id", "created_at")}
    result = connection.execute(
        update(tenants).where(tenants.c.id == tenant.id, tenants.c.version == expected_version).values(values)
    )
    return result.rowcount == 1


def add_api_key(connection: Connection, key: ApiKey) -> None:
    connection.execute(insert(api_keys).values({**vars(key), "scopes": list(key.scopes)}))


def find_api_key(connection: Connection, key_id: str) -> tuple[ApiKey, TenantStatus] | None:
    """A key with the status of its tenant, whichever tenant that is: for authentication only."""
    query = select(api_keys, tenants.c.status.label("tenant_status")).join(
        tenants, tenants.c.id == api_keys.c.tenant_id
    )
    row = connection.execute(query.where(api_keys.c.id == key_id)).first()
    return (_api_key(row), TenantStatus(row.tenant_status)) if row else None


def find_tenant_api_key(connection: Connection, tenant_id: str, key_id: str) -> ApiKey | None:
    query = select(api_keys).where(api_keys.c.id == key_id, api_keys.c.tenant_id == tenant_id)
    row = connection.execute(query).first()
    return _api_key(row) if row else None


def list_api_keys(
    connection: Connection, tenant_id: str, after: tuple[datetime, str] | None, limit: int
) -> list[ApiKey]:
    query = select(api_keys).where(api_keys.c.tenant_id == tenant_id, *_after(api_keys, after))
    rows = connection.execute(query.order_by(api_keys.c.created_at, api_keys.c.id).limit(limit))
    return [_api_key(row) for row in rows]


def count_api_keys(connection: Connection, tenant_id: str) -> int:
    query = select(func.count()).select_from(api_keys).where(api_keys.c.tenant_id == tenant_id)
    return connection.execute(query).scalar_one()


def revoke_api_key(connection: Connection, tenant_id: str, key_id: str, now: datetime) -> bool:
    """Revokes a key unless it already is; True when this call revoked it."""
    result = connection.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.tenant_id == tenant_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount == 1
