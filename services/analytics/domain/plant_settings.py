"""What a tenant tells analytics about its plant, beyond its rules: how the machines of
each profile report what they do (a machine model, keyed by profile id), and when each
site plans them to work (a shift calendar, keyed by site). Each is a versioned JSON
document (see `machine_models.py` and `site_calendars.py` for their shapes)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class SettingKind(StrEnum):
    MACHINE_MODEL = "machine_model"
    SITE_CALENDAR = "site_calendar"


@dataclass(frozen=True)
class PlantSetting:
    kind: SettingKind
    tenant_id: str
    # The profile id of a machine model; the site of a calendar.
    key: str
    definition: Mapping[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime
    deleted: bool = field(default=False, compare=False)
