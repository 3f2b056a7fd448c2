"""Reads and writes of alarms."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update

from services.analytics.domain.alarms import Alarm
from services.analytics.domain.rules import Severity
from services.analytics.storage import alarms
from services.kit.bulk_rows import one_of, update_rows
from services.kit.db import insert_rows


def add_alarm(connection: Connection, alarm: Alarm) -> None:
    connection.execute(alarms.insert().values(_row(alarm)))


def add_alarms(connection: Connection, added: Sequence[Alarm]) -> None:
    insert_rows(connection, alarms, [_row(alarm) for alarm in added])


def save_alarms(connection: Connection, changed: Sequence[Alarm]) -> None:
    """Writes the alarms' new states, together."""
    update_rows(connection, alarms, [_row(alarm) for alarm in changed])


def save_alarm(connection: Connection, alarm: Alarm, while_active: bool = False) -> bool:
    """Writes the alarm's new state; with `while_active`, only if it is still active (a
    person may have cleared it meanwhile). False when nothing was written."""
    statement = update(alarms).where(alarms.c.id == alarm.id)
    if while_active:
        statement = statement.where(alarms.c.active.is_(True))
    return connection.execute(statement.values(_row(alarm))).rowcount == 1


def find_alarm(connection: Connection, tenant_id: str, alarm_id: str, lock: bool = False) -> Alarm | None:
    query = select(alarms).where(alarms.c.id == alarm_id, alarms.c.tenant_id == tenant_id)
    if lock:
        query = query.with_for_update()
    row = connection.execute(query).mappings().first()
    return alarm_of(row) if row else None


def alarms_moved(
    connection: Connection, alarm_ids: Sequence[str], pairs: Iterable[tuple[str, str]]
) -> tuple[list[Alarm], dict[tuple[str, str], Alarm]]:
    """Locked, in one query: the alarms of `alarm_ids`, and the active alarm of each
    (device, rule) of `pairs` that has one."""
    wanted = set(pairs)
    devices = sorted({device for device, _ in wanted})
    rules = sorted({rule for _, rule in wanted})
    if not alarm_ids and not devices:
        return [], {}
    # Devices by rules covers the pairs and a few more, in one index scan.
    of_pairs = and_(
        one_of(connection, alarms.c.device_id, devices),
        one_of(connection, alarms.c.rule_id, rules),
        # As the unique index's predicate says it, so that the index answers.
        alarms.c.active,
    )
    query = select(alarms).where(or_(one_of(connection, alarms.c.id, alarm_ids), of_pairs)).with_for_update()
    found = [alarm_of(row) for row in connection.execute(query).mappings()]
    named = set(alarm_ids)
    active = {(a.device_id, a.rule_id): a for a in found if a.active and (a.device_id, a.rule_id) in wanted}
    return [a for a in found if a.id in named], active


def active_alarms_of_rule(connection: Connection, rule_id: str) -> list[Alarm]:
    query = select(alarms).where(alarms.c.rule_id == rule_id, alarms.c.active.is_(True)).with_for_update()
    return [alarm_of(row) for row in connection.execute(query).mappings()]


def list_alarms(
    connection: Connection, tenant_id: str, wanted: dict[str, Any], after: list[Any] | None, limit: int
) -> list[Alarm]:
    """The tenant's alarms matching `wanted`, newest first, after the position `after`."""
    query = select(alarms).where(alarms.c.tenant_id == tenant_id, *_filters(wanted))
    if after:
        started, alarm_id = datetime.fromisoformat(after[0]), after[1]
        query = query.where(
            or_(alarms.c.started_at < started, and_(alarms.c.started_at == started, alarms.c.id < alarm_id))
        )
    query = query.order_by(alarms.c.started_at.desc(), alarms.c.id.desc()).limit(limit)
    return [alarm_of(row) for row in connection.execute(query).mappings()]


def active_by_severity(connection: Connection, tenant_id: str) -> dict[Severity, int]:
    query = (
        select(alarms.c.severity, func.count())
        .where(alarms.c.tenant_id == tenant_id, alarms.c.active.is_(True))
        .group_by(alarms.c.severity)
    )
    return {Severity(severity): count for severity, count in connection.execute(query)}


def _filters(wanted: dict[str, Any]) -> list[Any]:
    filters = []
    if wanted.get("statuses"):
        filters.append(
            or_(*(and_(alarms.c.active.is_(a), alarms.c.acknowledged.is_(k)) for a, k in wanted["statuses"]))
        )
    if wanted.get("severities"):
        filters.append(alarms.c.severity.in_(wanted["severities"]))
    for name in ("device_id", "rule_id"):
        if wanted.get(name):
            filters.append(alarms.c[name] == wanted[name])
    if wanted.get("started_after"):
        filters.append(alarms.c.started_at >= wanted["started_after"])
    if wanted.get("started_before"):
        filters.append(alarms.c.started_at < wanted["started_before"])
    return filters


def alarm_of(row: Any) -> Alarm:
    return Alarm(
        id=row["id"],
        tenant_id=row["tenant_id"],
        device_id=row["device_id"],
        rule_id=row["rule_id"],
        rule_version=row["rule_version"],
        name=row["name"],
        severity=Severity(row["severity"]),
        active=row["active"],
        acknowledged=row["acknowledged"],
        started_at=row["started_at"],
        updated_at=row["updated_at"],
        raised_by=row["raised_by"],
        severity_history=tuple(
            (Severity(severity), datetime.fromisoformat(at)) for severity, at in row["severity_history"]
        ),
        cleared_at=row["cleared_at"],
        cleared_by=row["cleared_by"],
        acknowledged_at=row["acknowledged_at"],
        acknowledged_by=row["acknowledged_by"],
        comments=tuple(row["comments"]),
    )


def _row(alarm: Alarm) -> dict[str, Any]:
    return {
        "id": alarm.id,
        "tenant_id": alarm.tenant_id,
        "device_id": alarm.device_id,
        "rule_id": alarm.rule_id,
        "rule_version": alarm.rule_version,
        "name": alarm.name,
        "severity": int(alarm.severity),
        "active": alarm.active,
        "acknowledged": alarm.acknowledged,
        "started_at": alarm.started_at,
        "updated_at": alarm.updated_at,
        "raised_by": alarm.raised_by,
        "severity_history": [[int(severity), at.isoformat()] for severity, at in alarm.severity_history],
        "cleared_at": alarm.cleared_at,
        "cleared_by": alarm.cleared_by,
        "acknowledged_at": alarm.acknowledged_at,
        "acknowledged_by": alarm.acknowledged_by,
        "comments": list(alarm.comments),
    }
