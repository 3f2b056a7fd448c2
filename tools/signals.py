"""Labelled synthetic signals for anomaly detection: the simulated factory's readings with
anomalies injected where the labels say, to measure detectors against (see bench/anomaly.py).

The base of a signal is one channel of a simulated machine (tools/simulate.py), number
`MACHINES + seed`: beyond the five of `make run`, so none overheats by script and every
departure from the simulated process is one the labels name. After a quiet lead-in, anomalies
follow one another at random gaps, the kinds in shuffled rounds. Sizes are in multiples of
the base signal's standard deviation (`scale`):

- spike: one reading 6-10 scale away;
- level_shift: a step of 3-6 scale that stays; labelled over its first `SHIFT_WINDOW` readings;
- drift: a ramp to 3-6 scale over 200-600 readings, which then stays;
- stuck: the value frozen for 100-300 readings;
- noise_burst: noise of 2-4 scale added for 50-200 readings.

Usage: python -m tools.signals [--channel power] [--readings 5000] [--seed 1] [--out signal.csv]
writes CSV rows of ts (ms), channel, value, label (the kind, or empty).
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from tools.simulate import MACHINES, Machine

CHANNELS = ("spindle_temp", "vibration", "power")
START_MS = 1_767_225_600_000
INTERVAL_MS = 1000
BURN_IN = 600
# Readings before the first anomaly, for a detector to learn the channel.
LEAD_IN = 600
# Readings between the end of one anomaly and the start of the next.
GAP = (300, 600)
SHIFT_WINDOW = 30


class Kind(StrEnum):
    SPIKE = "spike"
    LEVEL_SHIFT = "level_shift"
    DRIFT = "drift"
    STUCK = "stuck"
    NOISE_BURST = "noise_burst"


@dataclass(frozen=True, slots=True)
class Label:
    """An injected anomaly over the readings `start`..`end`, both included."""

    kind: Kind
    start: int
    end: int


@dataclass(frozen=True)
class Signal:
    channel: str
    ts_ms: list[int]
    values: list[float]
    labels: tuple[Label, ...]

    def label_of_each(self) -> list[str]:
        """Every reading's label: the kind of anomaly it belongs to, or ""."""
        marks = [""] * len(self.values)
        for label in self.labels:
            marks[label.start : label.end + 1] = [label.kind.value] * (label.end - label.start + 1)
        return marks


def base_signals(length: int, seed: int) -> dict[str, list[float]]:
    """Every numeric channel of one simulated machine, `length` readings once it has run for
    `BURN_IN` (a machine's spindle starts at 24 + its number degC, far off for large numbers)."""
    machine = Machine(MACHINES + seed)
    for _ in range(BURN_IN):
        machine.sample(START_MS)
    samples = [machine.sample(START_MS + i * INTERVAL_MS)["values"] for i in range(length)]
    return {channel: [float(sample[channel]) for sample in samples] for channel in CHANNELS}


def labelled_signal(channel: str, base: list[float], seed: int) -> Signal:
    """`base` with anomalies injected, the same for the same channel, base and seed."""
    rng = random.Random(f"{seed}/{channel}")
    values = list(base)
    scale = statistics.pstdev(base) or 1.0
    labels = []
    rounds = _shuffled_rounds(rng)
    start = LEAD_IN
    while True:
        kind = next(rounds)
        end = start + _SPANS[kind](rng) - 1
        if end + GAP[0] >= len(values):
            break
        _INJECT[kind](values, start, end, scale, rng)
        labels.append(Label(kind, start, end))
        start = end + 1 + rng.randint(*GAP)
    ts_ms = [START_MS + i * INTERVAL_MS for i in range(len(values))]
    return Signal(channel, ts_ms, values, tuple(labels))


def machine_signals(length: int, seed: int) -> list[Signal]:
    """One labelled signal per channel of the machine of `seed`."""
    return [labelled_signal(channel, base, seed) for channel, base in base_signals(length, seed).items()]


def _shuffled_rounds(rng: random.Random) -> Iterator[Kind]:
    while True:
        kinds = list(Kind)
        rng.shuffle(kinds)
        yield from kinds


def _sign(rng: random.Random) -> int:
    return rng.choice((-1, 1))


def _spike(values: list[float], start: int, end: int, scale: float, rng: random.Random) -> None:
    values[start] += _sign(rng) * rng.uniform(6, 10) * scale


def _level_shift(values: list[float], start: int, end: int, scale: float, rng: random.Random) -> None:
    step = _sign(rng) * rng.uniform(3, 6) * scale
    for i in range(start, len(values)):
        values[i] += step


def _drift(values: list[float], start: int, end: int, scale: float, rng: random.Random) -> None:
    total = _sign(rng) * rng.uniform(3, 6) * scale
    span = end - start + 1
    for i in range(start, len(values)):
        values[i] += total * min(1.0, (i - start + 1) / span)


def _stuck(values: list[float], start: int, end: int, scale: float, rng: random.Random) -> None:
    values[start : end + 1] = [values[start]] * (end - start + 1)


def _noise_burst(values: list[float], start: int, end: int, scale: float, rng: random.Random) -> None:
    sigma = rng.uniform(2, 4) * scale
    for i in range(start, end + 1):
        values[i] += rng.gauss(0, sigma)


_SPANS: dict[Kind, Callable[[random.Random], int]] = {
    Kind.SPIKE: lambda rng: 1,
    Kind.LEVEL_SHIFT: lambda rng: SHIFT_WINDOW,
    Kind.DRIFT: lambda rng: rng.randint(200, 600),
    Kind.STUCK: lambda rng: rng.randint(100, 300),
    Kind.NOISE_BURST: lambda rng: rng.randint(50, 200),
}
_INJECT: dict[Kind, Callable[[list[float], int, int, float, random.Random], None]] = {
    Kind.SPIKE: _spike,
    Kind.LEVEL_SHIFT: _level_shift,
    Kind.DRIFT: _drift,
    Kind.STUCK: _stuck,
    Kind.NOISE_BURST: _noise_burst,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.signals", description=__doc__.split("\n\n")[0])
    parser.add_argument("--channel", choices=CHANNELS, default="power")
    parser.add_argument("--readings", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--out", type=argparse.FileType("w"), default=sys.stdout, help="CSV file (default: stdout)"
    )
    args = parser.parse_args(argv)
    signal = labelled_signal(args.channel, base_signals(args.readings, args.seed)[args.channel], args.seed)
    writer = csv.writer(args.out, lineterminator="\n")
    writer.writerow(("ts", "channel", "value", "label"))
    rows = zip(signal.ts_ms, signal.values, signal.label_of_each(), strict=True)
    writer.writerows((ts, signal.channel, round(value, 6), label) for ts, value, label in rows)


if __name__ == "__main__":
    main()
