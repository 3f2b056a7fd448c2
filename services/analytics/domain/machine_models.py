"""How the machines of one profile report what they do, for ISO 22400 figures: a
machine model, defined once per profile as plain JSON-ready data.

`{"states": STATES, "produced": COUNTER | None, "scrap": COUNTER | None,
  "good": COUNTER | None, "ideal_cycle_seconds": 42.0, "ideal_cycle_attribute": "",
  "max_gap_seconds": 300}`, where
- STATES maps a state channel's values to time categories,
  `{"channel": "mode", "values": [{"value": "cutting", "category": "producing"}, ...],
  "default": "idle"}`, or derives the category from conditions checked in order,
  `{"conditions": [{"category": "producing", "condition": CONDITION}], "default": "idle"}`
  (CONDITION as an alarm rule's, see `definitions.py`);
- COUNTER is `{"channel": "parts", "wraps_at": 65536 | None}`, a cumulative count;
- the ideal cycle time (ISO's planned runtime per unit, PRU) is the device's attribute
  `ideal_cycle_attribute` when it has a positive number there (machines of one profile
  may run different parts), else `ideal_cycle_seconds`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.analytics.domain.conditions import compile_condition
from services.analytics.domain.counters import Counter
from services.analytics.domain.definitions import condition_from
from services.analytics.domain.timeline import Category, ConditionStates, MachineConfig, ValueStates

COUNTERS = ("produced", "scrap", "good")


@dataclass(frozen=True)
class MachineModel:
    definition: Mapping[str, Any]

    def config(self) -> MachineConfig:
        """The model compiled for a machine tracker."""
        data = self.definition
        return MachineConfig(
            states=_states(data["states"]),
            produced=_counter(data.get("produced")),
            scrap=_counter(data.get("scrap")),
            good=_counter(data.get("good")),
            max_gap_ms=int(data["max_gap_seconds"]) * 1000,
        )

    def ideal_cycle_seconds(self, attributes: Mapping[str, Any]) -> float:
        """The device's planned runtime per unit: its own attribute, or the model's."""
        name = self.definition.get("ideal_cycle_attribute") or ""
        own = attributes.get(name) if name else None
        if own.__class__ in (int, float) and own > 0:  # type: ignore[operator]
            return float(own)  # type: ignore[arg-type]
        return float(self.definition.get("ideal_cycle_seconds") or 0)

    @property
    def channels(self) -> frozenset[str]:
        """The channels the model reads: a sample without any of them changes nothing."""
        return self.config().channels


def _states(data: Mapping[str, Any]) -> ValueStates | ConditionStates:
    default = Category(data["default"])
    if "channel" in data:
        values = tuple((case["value"], Category(case["category"])) for case in data["values"])
        return ValueStates(data["channel"], values, default)
    conditions = [(Category(c["category"]), condition_from(c["condition"])) for c in data["conditions"]]
    tests = tuple((category, compile_condition(condition)) for category, condition in conditions)
    channels = frozenset().union(*(condition.channels() for _, condition in conditions))
    return ConditionStates(tests, default, channels)


def _counter(data: Mapping[str, Any] | None) -> Counter | None:
    return Counter(data["channel"], data.get("wraps_at")) if data else None
