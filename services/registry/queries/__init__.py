"""The registry's SQL, one module per area; shared lookups live here."""

from __future__ import annotations

from sqlalchemy import Connection, select

from services.registry import storage


def tenant_exists(connection: Connection, tenant_id: str) -> bool:
    query = select(storage.tenants.c.id).where(storage.tenants.c.id == tenant_id)
    return connection.execute(query).first() is not None
