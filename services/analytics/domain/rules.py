"""Alarm rules as analytics evaluates them: plain, immutable values.

A rule watches the devices of one profile (optionally only those carrying given
labels). It has one create trigger per severity and one way to clear. A trigger is
a condition over the latest value of each channel it names, and a kind saying how
long or how often that condition must hold; or, of kind ANOMALY, a streaming detector
of one channel (`anomalies.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum

from services.analytics.domain.anomalies import AnomalyKind, DetectorSettings
from services.kit.batches import Scalar


class Severity(IntEnum):
    """Ordered: a greater severity is the more severe."""

    WARNING = 1
    MINOR = 2
    MAJOR = 3
    CRITICAL = 4


class Operator(StrEnum):
    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"
    INSIDE = "inside"
    OUTSIDE = "outside"


RANGE_OPERATORS = frozenset({Operator.INSIDE, Operator.OUTSIDE})
EQUALITY_OPERATORS = frozenset({Operator.EQ, Operator.NE})


class Combinator(StrEnum):
    ALL = "all"
    ANY = "any"


class TriggerKind(StrEnum):
    SIMPLE = "simple"
    DURATION = "duration"
    REPEATING = "repeating"
    NO_DATA = "no_data"
    ANOMALY = "anomaly"


@dataclass(frozen=True, slots=True)
class Operand:
    """A constant, or, with `attribute` set, the device's attribute of that name."""

    constant: Scalar | None = None
    attribute: str = ""


@dataclass(frozen=True, slots=True)
class Predicate:
    channel: str
    operator: Operator
    value: Operand
    # INSIDE and OUTSIDE: the upper bound; `value` is the lower.
    upper: Operand | None = None


@dataclass(frozen=True, slots=True)
class Condition:
    combinator: Combinator = Combinator.ALL
    predicates: tuple[Predicate, ...] = ()
    groups: tuple[Condition, ...] = ()

    def channels(self) -> frozenset[str]:
        """Every channel the condition reads."""
        named = {p.channel for p in self.predicates}
        for group in self.groups:
            named |= group.channels()
        return frozenset(named)


@dataclass(frozen=True, slots=True)
class Detector:
    """An ANOMALY trigger's detector: how sensitive, and which kinds of anomaly meet it."""

    settings: DetectorSettings = field(default_factory=DetectorSettings)
    kinds: frozenset[AnomalyKind] = frozenset(AnomalyKind)


@dataclass(frozen=True, slots=True)
class Trigger:
    kind: TriggerKind
    condition: Condition | None = None
    seconds: int = 0
    count: int = 0
    # NO_DATA: the channel watched; "" for any channel of the device. ANOMALY: the one watched.
    channel: str = ""
    # ANOMALY only.
    detector: Detector | None = None


@dataclass(frozen=True, slots=True)
class ClearCondition:
    """A trigger of its own, or, without one, clearing once no create trigger has been
    met for `unmet_for_seconds` of reading time."""

    trigger: Trigger | None = None
    unmet_for_seconds: int = 0


@dataclass(frozen=True)
class AlarmRule:
    id: str
    tenant_id: str
    profile_id: str
    name: str
    labels: Mapping[str, str]
    create: Mapping[Severity, Trigger]
    clear: ClearCondition
    version: int
    created_at: datetime
    updated_at: datetime
    deleted: bool = field(default=False, compare=False)

    def applies_to(self, labels: Mapping[str, str]) -> bool:
        """Whether a device of the rule's profile carrying `labels` is watched."""
        return all(labels.get(key) == value for key, value in self.labels.items())
