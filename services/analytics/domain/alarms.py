"""Alarms: what a rule raised on a device, and how people act on it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from services.analytics.domain.rules import Severity
from services.kit.errors import FailedPrecondition

# Who acts when the rule itself moves an alarm.
RULE_ACTOR = "rule"


class AlarmStatus(StrEnum):
    ACTIVE_UNACKNOWLEDGED = "active_unacknowledged"
    ACTIVE_ACKNOWLEDGED = "active_acknowledged"
    CLEARED_UNACKNOWLEDGED = "cleared_unacknowledged"
    CLEARED_ACKNOWLEDGED = "cleared_acknowledged"

    @classmethod
    def of(cls, active: bool, acknowledged: bool) -> AlarmStatus:
        return cls(
            f"{'active' if active else 'cleared'}_{'acknowledged' if acknowledged else 'unacknowledged'}"
        )


@dataclass(frozen=True)
class Alarm:
    id: str
    tenant_id: str
    device_id: str
    rule_id: str
    rule_version: int
    name: str
    severity: Severity
    active: bool
    acknowledged: bool
    started_at: datetime
    updated_at: datetime
    raised_by: dict[str, Any]
    # [(severity, since), ...], oldest first; the first is the severity raised.
    severity_history: tuple[tuple[Severity, datetime], ...]
    cleared_at: datetime | None = None
    cleared_by: str = ""
    acknowledged_at: datetime | None = None
    acknowledged_by: str = ""
    comments: tuple[dict[str, Any], ...] = field(default=())

    @property
    def status(self) -> AlarmStatus:
        return AlarmStatus.of(self.active, self.acknowledged)

    def acknowledge(self, actor: str, now: datetime) -> Alarm:
        if self.acknowledged:
            raise FailedPrecondition("the alarm is acknowledged already")
        return replace(self, acknowledged=True, acknowledged_at=now, acknowledged_by=actor, updated_at=now)

    def clear(self, actor: str, at: datetime) -> Alarm:
        if not self.active:
            raise FailedPrecondition("the alarm is cleared already")
        return replace(self, active=False, cleared_at=at, cleared_by=actor, updated_at=at)

    def change_severity(self, severity: Severity, at: datetime) -> Alarm:
        return replace(
            self, severity=severity, severity_history=(*self.severity_history, (severity, at)), updated_at=at
        )

    def comment(self, actor: str, text: str, now: datetime) -> Alarm:
        comment = {"author": actor, "text": text, "at": now.isoformat()}
        return replace(self, comments=(*self.comments, comment), updated_at=now)
