"""Reads and writes of tenants' retention tiers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from services.kit.db import upsert
from services.telemetry.storage import tenant_retention


def retention_days(connection: Connection, tenant_id: str) -> int | None:
    """The tenant's own retention, None for the installation's default."""
    query = select(tenant_retention.c.days).where(tenant_retention.c.tenant_id == tenant_id)
    return connection.execute(query).scalar()


def set_retention_days(connection: Connection, tenant_id: str, days: int, now: datetime) -> None:
    upsert(connection, tenant_retention, {"tenant_id": tenant_id, "days": days, "updated_at": now})
