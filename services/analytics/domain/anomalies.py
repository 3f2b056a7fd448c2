"""Streaming anomaly detection on one channel of one device: a pure state machine, without I/O.

The evaluator keeps one `ChannelDetector` per (device, channel) and feeds it the channel's
readings in time order; `update` returns an `Anomaly` when one is found, else None.

- Model: a robust EWMA of the level and its variance. The deviation delta = x - mean is
  winsorised at `clip` sigma before it updates them, so one spike moves neither the mean nor
  the band for the readings after it. sigma has a floor (`min_sigma`, and 1e-9 of the level)
  so that float noise on a flat signal does not score as an outlier.
- Warm-up: the first `warmup` readings only learn (with plain running means, so the
  estimate is sound at once rather than after 1/alpha readings) and give no verdict.
- SPIKE: a reading more than `threshold` sigma from the mean whose neighbours lie within
  `clip` sigma of it (or beyond on the other side). The verdict comes with the next
  reading, since only it tells a spike from the first reading of a shift.
- LEVEL_SHIFT: a two-sided CUSUM of the standardised residual, clipped like delta so that a
  spike alone cannot trip it, with a slack of `shift_slack` sigma and a decision interval of
  `shift_threshold`. At a shift the level is learnt afresh, as the running mean of the
  readings since (weight 1/n, until alpha is the larger), and the CUSUM waits `warmup`
  readings before it restarts: one verdict per shift, not one per reading after it. sigma
  is kept, so spikes and stuck runs are still found meanwhile.
- STUCK: `stuck_readings` exactly equal readings in a row on a channel whose learned sigma says
  it moves; one verdict per run. The rest of the run teaches the model nothing, and the
  level is learnt afresh once the channel moves again. A channel constant
  by nature (a door switch never opened) has sigma at the floor and is never stuck.
- A reading not newer than the last one applied is ignored: replays change nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

# Float resolution of the level, as a floor on sigma relative to it.
_RELATIVE_FLOOR = 1e-9


class AnomalyKind(StrEnum):
    SPIKE = "spike"
    LEVEL_SHIFT = "level_shift"
    STUCK = "stuck"


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    """How sensitive a profile's detectors are; every field is validated, naming itself."""

    # Weight of a reading in the long EWMA of level and variance: 1/alpha readings of memory.
    alpha: float = 0.005
    # Readings that only learn before the first verdict, and that relearn a level before the
    # next shift can be found. Longer than a machine's cycle (135 s of cutting and idling in
    # the simulated factory), or its phases look like shifts.
    warmup: int = 150
    # A spike lies more than this many sigma from the level.
    threshold: float = 4.5
    # delta and the CUSUM's residual are clipped at this many sigma.
    clip: float = 3.0
    # CUSUM slack (sigma per reading a shift must exceed) and decision interval (sigma x readings).
    # A machine idling a third of the time reads sqrt(2) sigma below its level meanwhile.
    shift_slack: float = 1.75
    shift_threshold: float = 6.0
    # Equal readings in a row that make a moving channel stuck. Longer than a channel's
    # natural plateaus (an idle machine's power, constant for 45 s in the simulated factory).
    stuck_readings: int = 60
    # Floor on sigma, in the channel's unit.
    min_sigma: float = 1e-6

    def __post_init__(self) -> None:
        _require(0 < self.alpha < 1, "alpha", "must lie in (0, 1)")
        _require(1 <= self.warmup <= 10_000, "warmup", "must lie in 1..10000")
        _require(2 <= self.stuck_readings <= 10_000, "stuck_readings", "must lie in 2..10000")
        for name in ("threshold", "clip", "shift_threshold", "min_sigma"):
            _require(getattr(self, name) > 0, name, "must be greater than 0")
        _require(self.shift_slack >= 0, "shift_slack", "must not be negative")


def _require(holds: bool, name: str, message: str) -> None:
    if not holds:
        raise ValueError(f"{name} {message}")


@dataclass(frozen=True, slots=True)
class Anomaly:
    """A verdict on the reading (`ts_ms`, `value`). `score`: for SPIKE, the reading's
    distance from the level in sigma; for LEVEL_SHIFT, the CUSUM's evidence (sigma x
    readings, above `shift_threshold`); for STUCK, the equal readings in a row.
    `low`..`high`: the band expected before the reading, `threshold` sigma about the level."""

    kind: AnomalyKind
    ts_ms: int
    value: float
    score: float
    low: float
    high: float


class ChannelDetector:
    """The detector of one (device, channel): a handful of numbers, updated in place.

    `count`: readings applied; `relearnt`: readings since the level was last learnt afresh;
    `up`, `down`: the CUSUM; `last`, `run`: the latest value and how often in a row; `side`:
    where the previous reading lay, +1 or -1 beyond `clip` sigma, 0 within (an outlier on
    the same side as a neighbour is part of a shift, not a spike); `pending`: the spike
    awaiting the next reading's confirmation."""

    __slots__ = (
        "count",
        "down",
        "last",
        "mean",
        "pending",
        "relearnt",
        "run",
        "seen_ts",
        "settings",
        "side",
        "up",
        "var",
    )

    def __init__(self, settings: DetectorSettings) -> None:
        self.settings = settings
        self.count = 0
        self.mean = 0.0
        self.var = 0.0
        self.relearnt = 0
        self.up = 0.0
        self.down = 0.0
        self.last = math.nan
        self.run = 0
        self.side = 0
        self.seen_ts = -1
        self.pending: Anomaly | None = None

    def update(self, ts_ms: int, value: float) -> Anomaly | None:
        """Applies a reading; the anomaly found, if any (a spike's one reading late)."""
        if ts_ms <= self.seen_ts or not math.isfinite(value):
            return None
        self.seen_ts = ts_ms
        s = self.settings
        if value == self.last:
            self.run += 1
        else:
            if self.run >= s.stuck_readings:
                # Back from a stuck run, which taught the level its value for a while.
                self.relearnt = 0
            self.last = value
            self.run = 1
        self.count += 1
        self.relearnt += 1
        if self.count <= s.warmup:
            # Running means (weight 1/n) until the EWMA's own weight is the larger.
            weight = 1 / self.count
            if weight < s.alpha:
                weight = s.alpha
            delta = value - self.mean
            self.mean += weight * delta
            self.var = (1 - weight) * (self.var + weight * delta * delta)
            return None
        mean = self.mean
        sigma = math.sqrt(self.var)
        if self.run >= s.stuck_readings and sigma > s.min_sigma:
            return self._stuck(ts_ms, value, sigma)
        # max() by comparisons: this runs for every reading of every watched channel.
        floor = _RELATIVE_FLOOR * (mean if mean > 0 else -mean)
        if sigma < s.min_sigma:
            sigma = s.min_sigma
        if sigma < floor:
            sigma = floor
        z = (value - mean) / sigma
        clip = s.clip
        side = (1 if z > 0 else -1) if abs(z) > clip else 0
        verdict = self._confirm_spike(side)
        if abs(z) > s.threshold and side != self.side:
            self.pending = self._verdict(AnomalyKind.SPIKE, ts_ms, value, abs(z), sigma)
        self.side = side
        # From here on z is the winsorised delta, in sigma.
        z = clip if z > clip else -clip if z < -clip else z
        if self.relearnt > s.warmup:
            up = self.up + z - s.shift_slack
            up = up if up > 0.0 else 0.0
            down = self.down - z - s.shift_slack
            down = down if down > 0.0 else 0.0
            if up > s.shift_threshold or down > s.shift_threshold:
                return self._shift(ts_ms, value, max(up, down), sigma)
            self.up = up
            self.down = down
        alpha = s.alpha
        weight = 1 / self.relearnt
        self.mean = mean + (weight if weight > alpha else alpha) * z * sigma
        self.var = (1 - alpha) * (self.var + alpha * z * z * sigma * sigma)
        return verdict

    def _confirm_spike(self, side: int) -> Anomaly | None:
        """The pending spike, unless this reading lies beyond `clip` sigma on the same side."""
        pending = self.pending
        self.pending = None
        return None if pending is None or side == self.side else pending

    def _shift(self, ts_ms: int, value: float, evidence: float, sigma: float) -> Anomaly:
        """The verdict, and the level learnt afresh from this reading on (sigma stays)."""
        verdict = self._verdict(AnomalyKind.LEVEL_SHIFT, ts_ms, value, evidence, sigma)
        self.mean = value
        self.relearnt = 1
        self.up = self.down = 0.0
        self.pending = None
        self.side = 0
        return verdict

    def _stuck(self, ts_ms: int, value: float, sigma: float) -> Anomaly | None:
        """The verdict on the run's `stuck_readings`-th reading; the rest of it is ignored."""
        if self.run != self.settings.stuck_readings:
            return None
        self.pending = None
        self.side = 0
        return self._verdict(AnomalyKind.STUCK, ts_ms, value, float(self.run), sigma)

    def _verdict(self, kind: AnomalyKind, ts_ms: int, value: float, score: float, sigma: float) -> Anomaly:
        half_band = self.settings.threshold * sigma
        return Anomaly(kind, ts_ms, value, score, self.mean - half_band, self.mean + half_band)

    def __eq__(self, other: object) -> bool:
        """Equal states: a detector restored from its bytes equals the one stored."""
        return isinstance(other, ChannelDetector) and self.state() == other.state()

    def state(self) -> list[Any]:
        """Every field but the settings, as JSON-ready values: compact enough to keep in
        the state of a device, which holds one per watched channel."""
        pending = self.pending
        return [
            self.count,
            self.mean,
            self.var,
            self.relearnt,
            self.up,
            self.down,
            None if math.isnan(self.last) else self.last,
            self.run,
            self.side,
            self.seen_ts,
            None
            if pending is None
            else [pending.ts_ms, pending.value, pending.score, pending.low, pending.high],
        ]

    @classmethod
    def restored(cls, state: list[Any], settings: DetectorSettings) -> ChannelDetector:
        """The detector whose `state()` that was."""
        detector = cls(settings)
        (
            detector.count,
            detector.mean,
            detector.var,
            detector.relearnt,
            detector.up,
            detector.down,
            last,
            detector.run,
            detector.side,
            detector.seen_ts,
            pending,
        ) = state
        detector.last = math.nan if last is None else last
        detector.pending = None if pending is None else Anomaly(AnomalyKind.SPIKE, *pending)
        return detector

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.state())

    @classmethod
    def from_bytes(cls, data: bytes, settings: DetectorSettings) -> ChannelDetector:
        return cls.restored(orjson.loads(data), settings)
