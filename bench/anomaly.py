"""Anomaly detection: precision and recall per kind of anomaly on labelled synthetic signals
(tools/signals.py), and the microseconds a detector takes per reading.

BENCH_ANOMALY_READINGS readings in all: the three numeric channels of simulated machines,
`SERIES_READINGS` readings each (fewer when the total is small), one fresh detector with
the default settings per (machine, channel).

Scored per event, not per reading:
- A labelled anomaly is detected when a verdict of any kind falls on its readings or at most
  `TOLERANCE` readings after them (a spike's verdict names the spike's reading, though it
  comes one reading later). `<label>_recall`: detected ÷ injected, for every kind injected.
- A verdict outside every labelled window (with the same tolerance) is a false positive of
  the kind the verdict claims: precision is a property of what the detector says, so
  `<verdict>_precision` = verdicts of that kind inside a window ÷ verdicts of that kind.
  Drift and noise bursts have no verdict kind of their own: a verdict inside them counts
  as true whatever its kind, and they get a recall only.
- `update_us`: time of the detection loop alone ÷ readings.

The defaults of DetectorSettings were tuned on the signals of seeds 10,000 to 10,079; the
figures here come from seeds `SEED`, `SEED` + 1, ..., which tuning never saw.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field

from services.analytics.domain.anomalies import AnomalyKind, ChannelDetector, DetectorSettings
from tools.signals import CHANNELS, INTERVAL_MS, START_MS, Kind, Signal, machine_signals

READINGS = int(os.environ.get("BENCH_ANOMALY_READINGS", "200000"))
SERIES_READINGS = 5000
SEED = 0
TOLERANCE = 10


@dataclass
class Score:
    """Counts over many signals: labelled windows and those detected, verdicts and those true."""

    injected: Counter[str] = field(default_factory=Counter)
    detected: Counter[str] = field(default_factory=Counter)
    verdicts: Counter[str] = field(default_factory=Counter)
    true: Counter[str] = field(default_factory=Counter)
    readings: int = 0
    seconds: float = 0.0

    def add(self, signal: Signal, verdicts: list[tuple[AnomalyKind, int]]) -> None:
        windows = [(label.kind, label.start, label.end + TOLERANCE) for label in signal.labels]
        self.injected.update(label.kind.value for label in signal.labels)
        self.detected.update(
            kind.value for kind, start, end in windows if any(start <= at <= end for _, at in verdicts)
        )
        for kind, at in verdicts:
            self.verdicts[kind.value] += 1
            self.true[kind.value] += any(start <= at <= end for _, start, end in windows)

    def figures(self) -> dict[str, float]:
        recall = {f"{kind}_recall": self.detected[kind] / max(1, self.injected[kind]) for kind in Kind}
        precision = {
            f"{kind}_precision": self.true[kind] / self.verdicts[kind] if self.verdicts[kind] else 1.0
            for kind in AnomalyKind
        }
        false_positives = sum(self.verdicts.values()) - sum(self.true.values())
        return {
            **recall,
            **precision,
            "false_positives": false_positives,
            "anomalies": sum(self.injected.values()),
            "readings": self.readings,
            "update_us": self.seconds / max(1, self.readings) * 1e6,
        }


def detect(signal: Signal, settings: DetectorSettings) -> tuple[list[tuple[AnomalyKind, int]], float]:
    """The verdicts on a signal (kind, reading index) and the seconds the detector took."""
    update = ChannelDetector(settings).update
    found = []
    started = time.perf_counter()
    for ts_ms, value in zip(signal.ts_ms, signal.values, strict=True):
        verdict = update(ts_ms, value)
        if verdict is not None:
            found.append(verdict)
    seconds = time.perf_counter() - started
    return [(v.kind, (v.ts_ms - START_MS) // INTERVAL_MS) for v in found], seconds


def evaluate(settings: DetectorSettings, readings: int, first_seed: int) -> Score:
    """Detectors run on `readings` readings of machines `first_seed`, `first_seed` + 1, ..."""
    length = min(SERIES_READINGS, readings // len(CHANNELS))
    score = Score()
    for seed in range(first_seed, first_seed + max(1, readings // (length * len(CHANNELS)))):
        for signal in machine_signals(length, seed):
            verdicts, seconds = detect(signal, settings)
            score.add(signal, verdicts)
            score.readings += len(signal.values)
            score.seconds += seconds
    return score


def run() -> dict[str, float]:
    score = evaluate(DetectorSettings(), READINGS, SEED)
    figures = score.figures()
    print(f"anomaly: {score.readings} readings, {figures['anomalies']} anomalies injected")
    for kind in Kind:
        line = f"  {kind:<12} recall {figures[f'{kind}_recall']:.3f} ({score.detected[kind]}/{score.injected[kind]})"
        if kind in AnomalyKind.__members__.values():
            line += (
                f", precision {figures[f'{kind}_precision']:.3f} ({score.true[kind]}/{score.verdicts[kind]})"
            )
        print(line)
    print(f"  false positives {figures['false_positives']}, update {figures['update_us']:.2f} us per reading")
    return figures
