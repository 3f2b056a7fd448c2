"""Use cases of alarms as people see them: list, look, acknowledge, clear, comment. Every
move is an event on the bus."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from services.analytics.domain.alarms import Alarm
from services.analytics.domain.rules import Severity
from services.analytics.queries import alarms as queries
from services.analytics.usecases import Clock, UnitOfWorkFactory, utc_now
from services.kit.db import UnitOfWork
from services.kit.errors import FieldViolation, InvalidArgument, NotFound
from services.kit.events import Event, unchecked_event
from services.kit.pagination import decode_cursor, keyset_page, page_size
from services.kit.validation import require_uuid

MAX_COMMENT_LENGTH = 2000
MAX_COMMENTS = 500
MAX_ACTOR_LENGTH = 200


def alarm_event(event_type: str, alarm: Alarm, actor: str, previous: Severity | None = None) -> Event:
    """The event saying what happened to `alarm`: built from the alarm alone, so checked
    against the catalogue by tests rather than once per event (see unchecked_event)."""
    return unchecked_event(
        event_type,
        alarm.tenant_id,
        {
            "alarm_id": alarm.id,
            "device_id": alarm.device_id,
            "rule_id": alarm.rule_id,
            "name": alarm.name,
            "severity": alarm.severity.name.lower(),
            "previous_severity": previous.name.lower() if previous else None,
            "status": alarm.status.value,
            "started_at": alarm.started_at.isoformat(),
            "cleared_at": alarm.cleared_at.isoformat() if alarm.cleared_at else None,
            "actor": actor,
            "reading": alarm.raised_by,
        },
    )


def clear_alarm(uow: UnitOfWork, alarm: Alarm, actor: str, at: datetime) -> Alarm:
    """Clears an active alarm and says so on the bus."""
    cleared = alarm.clear(actor, at)
    queries.save_alarm(uow.connection, cleared)
    uow.emit(alarm_event("alarm.cleared", cleared, actor))
    return cleared


class Alarms:
    def __init__(self, unit_of_work: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock

    def get(self, tenant_id: str, alarm_id: str) -> Alarm:
        with self._unit_of_work(read_only=True) as uow:
            return _found(uow.connection, tenant_id, alarm_id)

    def list(self, tenant_id: str, wanted: dict[str, Any], size: int, cursor: str) -> tuple[list[Alarm], str]:
        """The tenant's alarms matching `wanted` (statuses, severities, device_id, rule_id,
        started_after, started_before), newest first."""
        limit = page_size(size)
        for name in ("device_id", "rule_id"):
            if wanted.get(name):
                wanted[name] = require_uuid(wanted[name], name)
        listing = {"alarms": tenant_id, **{k: str(v) for k, v in wanted.items()}}
        after = decode_cursor(cursor, listing)
        statuses = [(s.startswith("active"), s.endswith("_acknowledged")) for s in wanted.get("statuses", ())]
        query = {**wanted, "statuses": statuses, "severities": [int(s) for s in wanted.get("severities", ())]}
        with self._unit_of_work(read_only=True) as uow:
            found = queries.list_alarms(uow.connection, tenant_id, query, after, limit + 1)
        return keyset_page(found, limit, lambda a: [a.started_at.isoformat(), a.id], listing)

    def acknowledge(self, tenant_id: str, alarm_id: str, actor: str) -> Alarm:
        return self._act(
            tenant_id, alarm_id, actor, "alarm.acknowledged", lambda a, now: a.acknowledge(actor, now)
        )

    def clear(self, tenant_id: str, alarm_id: str, actor: str) -> Alarm:
        return self._act(tenant_id, alarm_id, actor, "alarm.cleared", lambda a, now: a.clear(actor, now))

    def comment(self, tenant_id: str, alarm_id: str, actor: str, text: str) -> Alarm:
        if not 1 <= len(text) <= MAX_COMMENT_LENGTH:
            raise InvalidArgument([FieldViolation("text", f"1 to {MAX_COMMENT_LENGTH} characters")])

        def comment(alarm: Alarm, now: datetime) -> Alarm:
            if len(alarm.comments) >= MAX_COMMENTS:
                raise InvalidArgument(
                    [FieldViolation("text", f"an alarm holds at most {MAX_COMMENTS} comments")]
                )
            return alarm.comment(actor, text, now)

        return self._act(tenant_id, alarm_id, actor, None, comment)

    def _act(self, tenant_id: str, alarm_id: str, actor: str, event_type: str | None, move: Any) -> Alarm:
        if not 1 <= len(actor) <= MAX_ACTOR_LENGTH:
            raise InvalidArgument([FieldViolation("actor", f"1 to {MAX_ACTOR_LENGTH} characters")])
        with self._unit_of_work() as uow:
            alarm = _found(uow.connection, tenant_id, alarm_id, lock=True)
            moved = move(alarm, self._clock())
            queries.save_alarm(uow.connection, moved)
            if event_type:
                uow.emit(alarm_event(event_type, moved, actor))
            uow.commit()
        return moved


def _found(connection: Connection, tenant_id: str, alarm_id: str, lock: bool = False) -> Alarm:
    tenant_id, alarm_id = require_uuid(tenant_id, "tenant_id"), require_uuid(alarm_id, "alarm_id")
    alarm = queries.find_alarm(connection, tenant_id, alarm_id, lock)
    if alarm is None:
        raise NotFound("alarm not found")
    return alarm
