"""Cumulative part counters as machines report them, turned into quantities produced.

A machine counts up from when it was last reset. A drop in value is a reset: the new
value counts from 0. A counter declaring `wraps_at` (a 16-bit PLC register: 65536)
instead wraps around on a drop, having counted `wraps_at - previous` up to the wrap and
`value` after it. The first reading only sets the baseline: what the machine counted
before we saw it is not ours to attribute. A value that is not a finite number >= 0
(NaN, a negative, a bool, a string, one at or above `wraps_at`) is ignored and changes
nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from services.kit.batches import Scalar


@dataclass(frozen=True, slots=True)
class Counter:
    channel: str
    wraps_at: int | None = None

    def __post_init__(self) -> None:
        if not self.channel:
            raise ValueError("a counter names its channel")
        if self.wraps_at is not None and self.wraps_at <= 0:
            raise ValueError("wraps_at must be positive")

    def valid(self, value: Scalar | None) -> bool:
        """Whether `value` is a count this counter can show."""
        if value.__class__ not in (int, float) or not math.isfinite(value) or value < 0:  # type: ignore[arg-type]
            return False
        return self.wraps_at is None or value < self.wraps_at  # type: ignore[operator]

    def delta(self, previous: float, value: float) -> float:
        """The quantity counted from `previous` to `value`, both valid."""
        if value >= previous:
            return value - previous
        if self.wraps_at is not None:
            return self.wraps_at - previous + value
        return value
