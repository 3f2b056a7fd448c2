"""Reads and writes of alarm rules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, or_, select, update

from services.analytics.domain.definitions import clear_data, clear_from, create_data, create_from
from services.analytics.domain.rules import AlarmRule
from services.analytics.queries.revisions import next_revision, rows_changed_since
from services.analytics.storage import alarm_rules

REVISION = "rules"


def add_rule(connection: Connection, rule: AlarmRule) -> None:
    connection.execute(
        alarm_rules.insert().values(_row(rule) | {"revision": next_revision(connection, REVISION)})
    )


def save_rule(connection: Connection, rule: AlarmRule, expected_version: int) -> bool:
    """Writes the rule's new version unless another change came first; False then."""
    found = connection.execute(
        update(alarm_rules)
        .where(alarm_rules.c.id == rule.id, alarm_rules.c.version == expected_version)
        .values(_row(rule) | {"revision": next_revision(connection, REVISION)})
    )
    return found.rowcount == 1


def find_rule(connection: Connection, tenant_id: str, rule_id: str) -> AlarmRule | None:
    query = select(alarm_rules).where(
        alarm_rules.c.id == rule_id, alarm_rules.c.tenant_id == tenant_id, alarm_rules.c.deleted.is_(False)
    )
    row = connection.execute(query).mappings().first()
    return rule_of(row) if row else None


def list_rules(
    connection: Connection, tenant_id: str, profile_id: str | None, after: list[Any] | None, limit: int
) -> list[AlarmRule]:
    """The tenant's rules ordered by profile then id, after the position `after`."""
    query = select(alarm_rules).where(alarm_rules.c.tenant_id == tenant_id, alarm_rules.c.deleted.is_(False))
    if profile_id:
        query = query.where(alarm_rules.c.profile_id == profile_id)
    if after:
        profile, rule = after
        query = query.where(
            or_(
                alarm_rules.c.profile_id > profile,
                and_(alarm_rules.c.profile_id == profile, alarm_rules.c.id > rule),
            )
        )
    query = query.order_by(alarm_rules.c.profile_id, alarm_rules.c.id).limit(limit)
    return [rule_of(row) for row in connection.execute(query).mappings()]


def rules_changed_since(connection: Connection, revision: int) -> tuple[list[AlarmRule], int]:
    """Rules created, changed or deleted after `revision` (deleted ones marked so), and
    the newest revision among them (or `revision` when none changed)."""
    rows, newest = rows_changed_since(connection, alarm_rules, revision)
    return [rule_of(row) for row in rows], newest


def rule_of(row: Any) -> AlarmRule:
    definition = row["definition"]
    return AlarmRule(
        id=row["id"],
        tenant_id=row["tenant_id"],
        profile_id=row["profile_id"],
        name=row["name"],
        labels=definition["labels"],
        create=create_from(definition["create"]),
        clear=clear_from(definition["clear"]),
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deleted=row["deleted"],
    )


def _row(rule: AlarmRule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "tenant_id": rule.tenant_id,
        "profile_id": rule.profile_id,
        "name": rule.name,
        "definition": {
            "labels": dict(rule.labels),
            "create": create_data(rule.create),
            "clear": clear_data(rule.clear),
        },
        "version": rule.version,
        "created_at": rule.created_at,
        "updated_at": rule.updated_at,
        "deleted": rule.deleted,
    }
