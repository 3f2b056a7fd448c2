"""What a machine does, from its readings: a timeline of state segments, the parts it
counted, and its failures.

Each reading's state falls into one of the time categories of ISO 22400-2 (the names
are those a plant uses; the ISO times are what `performance` sums them into):
- PRODUCING: the machine makes parts: actual production time, APT.
- SETUP: changeover, tooling, warm-up: actual unit setup time, ASUT.
- IDLE: ready but waiting (no material, no operator, blocked): actual unit delay time,
  ADET. Busy time is AUBT = APT + ASUT + ADET.
- PLANNED_DOWNTIME: breaks, planned maintenance: planned downtime, PDOT, taken out of
  the planned busy time (PBT = planned shift time - PDOT).
- FAULT: unplanned downtime, ADOT; each entry into it is a failure.
- UNREPORTED: no ISO time. The machine was silent for longer than `max_gap_ms`: we
  cannot tell when within the gap it stopped, so none of the gap is credited to the
  state it last reported. Inside planned time it lowers availability like downtime,
  and `performance` reports it on its own.

The time between two readings belongs to the state of the earlier one. Consecutive
readings in one category make a single segment; a state held for no time (a reading
followed by another at the same instant, or by a silence) may leave two neighbouring
segments of one category, which no sum minds. A failure starts at the first FAULT
reading and is restored at the first reading in another reported category: a silence
(UNREPORTED) does not end it, since a broken machine is often switched off for repair.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from copy import copy
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from services.analytics.domain.conditions import Test
from services.analytics.domain.counters import Counter
from services.kit.batches import Scalar

NO_ATTRIBUTES: Mapping[str, Any] = {}


class Category(StrEnum):
    PRODUCING = "producing"
    SETUP = "setup"
    IDLE = "idle"
    PLANNED_DOWNTIME = "planned_downtime"
    FAULT = "fault"
    UNREPORTED = "unreported"


@dataclass(frozen=True, slots=True)
class ValueStates:
    """A state channel's values mapped to categories, e.g. ("RUN", PRODUCING). Pairs
    rather than a dict, so that True and 1 (equal keys in Python) may differ."""

    channel: str
    values: tuple[tuple[Scalar, Category], ...]
    default: Category
    _lookup: dict[tuple[bool, Scalar], Category] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_lookup", {_key(value): category for value, category in self.values})

    @property
    def channels(self) -> frozenset[str]:
        return frozenset({self.channel})

    def category(self, latest: Mapping[str, Scalar], attributes: Mapping[str, Any]) -> Category:
        value = latest.get(self.channel)
        return self.default if value is None else self._lookup.get(_key(value), self.default)


@dataclass(frozen=True, slots=True)
class ConditionStates:
    """Tests checked in order, the first met giving the category, such as the
    functions `conditions.compile_condition` makes."""

    tests: tuple[tuple[Category, Test], ...]
    default: Category
    # The channels the tests read: the tracker keeps only their latest values.
    channels: frozenset[str]

    def category(self, latest: Mapping[str, Scalar], attributes: Mapping[str, Any]) -> Category:
        for category, test in self.tests:
            if test(latest, attributes):
                return category
        return self.default


StateModel = ValueStates | ConditionStates


def _key(value: Scalar) -> tuple[bool, Scalar]:
    return value.__class__ is bool, value


@dataclass(frozen=True, slots=True)
class MachineConfig:
    states: StateModel
    produced: Counter | None = None
    # At most one of scrap and good. With good, a reading's scrap is what was produced
    # but not counted good: exact over any period in which both counters report, so a
    # machine should send the two in one reading.
    scrap: Counter | None = None
    good: Counter | None = None
    max_gap_ms: int = 5 * 60_000
    # The channels the tracker reads: a sample without any of them changes nothing.
    channels: frozenset[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        if self.scrap is not None and self.good is not None:
            raise ValueError("a machine counts scrap or good parts, not both")
        if self.max_gap_ms <= 0:
            raise ValueError("max_gap_ms must be positive")
        counters = (self.produced, self.scrap, self.good)
        channels = self.states.channels | {counter.channel for counter in counters if counter}
        object.__setattr__(self, "channels", channels)


@dataclass(frozen=True, slots=True)
class Segment:
    start_ms: int
    end_ms: int
    category: Category


@dataclass(frozen=True, slots=True)
class Count:
    ts_ms: int
    produced: float
    scrap: float


@dataclass(frozen=True, slots=True)
class Restoration:
    """A fault that ended: the failure began at `start_ms`, the machine resumed at `end_ms`."""

    start_ms: int
    end_ms: int


@dataclass(slots=True)
class Timeline:
    segments: list[Segment] = field(default_factory=list)
    counts: list[Count] = field(default_factory=list)
    # The instants the machine entered FAULT.
    failures: list[int] = field(default_factory=list)
    restorations: list[Restoration] = field(default_factory=list)

    def extend(self, other: Timeline) -> None:
        self.segments += other.segments
        self.counts += other.counts
        self.failures += other.failures
        self.restorations += other.restorations


class LateReading(ValueError):
    """A reading older than one already taken: `machine_log` recomputes its periods."""


@dataclass(slots=True)
class MachineTracker:
    """One device's progress through its readings: the open segment, the latest
    values of its state channels, its counters' baselines and an unrestored fault."""

    config: MachineConfig
    # The newest reading's time; None before any.
    last_ts: int | None = None
    # The open segment: its category and start.
    category: Category = Category.UNREPORTED
    since: int = 0
    latest: dict[str, Scalar] = field(default_factory=dict)
    baselines: dict[str, float] = field(default_factory=dict)
    fault_since: int | None = None

    def feed(
        self,
        ts_ms: int,
        values: Mapping[str, Scalar],
        attributes: Mapping[str, Any] = NO_ATTRIBUTES,
        into: Timeline | None = None,
    ) -> Timeline:
        """Take one reading no older than the last; what it closes, added `into` a
        timeline of the caller's (one per batch of readings rather than per reading)."""
        if self.last_ts is not None and ts_ms < self.last_ts:
            raise LateReading(f"reading at {ts_ms} after one at {self.last_ts}")
        out = Timeline() if into is None else into
        self._count(ts_ms, values, out)
        # A NaN state is no state, and would not survive orjson (it writes null).
        state_channels = self.config.states.channels
        latest = self.latest
        for channel, value in values.items():
            if channel in state_channels and not non_finite(value):
                latest[channel] = value
        category = self.config.states.category(self.latest, attributes)
        if self.last_ts is None:
            self.since, self.category = ts_ms, category
        else:
            if ts_ms - self.last_ts > self.config.max_gap_ms:
                self._switch(self.last_ts, Category.UNREPORTED, out)
            self._switch(ts_ms, category, out)
        self._follow_fault(ts_ms, category, out)
        self.last_ts = ts_ms
        return out

    def settle(self, into: Timeline) -> None:
        """Closes the open segment at the newest reading, so that figures are current to
        it, and lets it go on from there: a machine producing all day shows its hours as
        they pass, not at its next change of state. Sums are the same either way."""
        if self.last_ts is not None and self.last_ts > self.since:
            into.segments.append(Segment(self.since, self.last_ts, self.category))
            self.since = self.last_ts

    def open_segments(self, now_ms: int) -> list[Segment]:
        """The time from the open segment's start to `now_ms`, as a reading at `now_ms`
        would close it: for figures of a period still running. Changes nothing."""
        if self.last_ts is None or now_ms < self.last_ts:
            return []
        probe, out = copy(self), Timeline()
        if now_ms - self.last_ts > self.config.max_gap_ms:
            probe._switch(self.last_ts, Category.UNREPORTED, out)
        if now_ms > probe.since:
            out.segments.append(Segment(probe.since, now_ms, probe.category))
        return out.segments

    def _switch(self, ts_ms: int, category: Category, out: Timeline) -> None:
        if category is self.category:
            return
        if ts_ms > self.since:
            out.segments.append(Segment(self.since, ts_ms, self.category))
        self.since, self.category = ts_ms, category

    def _follow_fault(self, ts_ms: int, category: Category, out: Timeline) -> None:
        if category is Category.FAULT and self.fault_since is None:
            self.fault_since = ts_ms
            out.failures.append(ts_ms)
        elif category not in (Category.FAULT, Category.UNREPORTED) and self.fault_since is not None:
            out.restorations.append(Restoration(self.fault_since, ts_ms))
            self.fault_since = None

    def _count(self, ts_ms: int, values: Mapping[str, Scalar], out: Timeline) -> None:
        produced = self._delta(self.config.produced, values)
        if self.config.good is not None:
            scrap = produced - self._delta(self.config.good, values)
        else:
            scrap = self._delta(self.config.scrap, values)
        if produced or scrap:
            out.counts.append(Count(ts_ms, produced, scrap))

    def _delta(self, counter: Counter | None, values: Mapping[str, Scalar]) -> float:
        if counter is None:
            return 0
        value = values.get(counter.channel)
        if not counter.valid(value):
            return 0
        previous = self.baselines.get(counter.channel)
        self.baselines[counter.channel] = value  # type: ignore[assignment]
        return 0 if previous is None else counter.delta(previous, value)  # type: ignore[arg-type]

    def is_late(self, ts_ms: int) -> bool:
        return self.last_ts is not None and ts_ms < self.last_ts

    def to_list(self) -> list[Any]:
        """The tracker as JSON-ready values, its config aside."""
        return [
            self.last_ts,
            self.category,
            self.since,
            dict(self.latest),
            dict(self.baselines),
            self.fault_since,
        ]

    @classmethod
    def from_list(cls, config: MachineConfig, data: list[Any]) -> MachineTracker:
        last_ts, category, since, latest, baselines, fault_since = data
        return cls(config, last_ts, Category(category), since, dict(latest), dict(baselines), fault_since)


def non_finite(value: Scalar) -> bool:
    return value.__class__ is float and not math.isfinite(value)  # type: ignore[arg-type]
