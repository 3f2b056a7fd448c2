"""Labelled synthetic signals: the same for the same seed, and every label where an anomaly
was injected into the simulated machine's readings, and nowhere else."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import pytest

from tools.signals import LEAD_IN, Kind, Label, Signal, base_signals, labelled_signal, main

LENGTH = 12_000


@pytest.fixture(scope="module")
def power() -> tuple[list[float], Signal]:
    base = base_signals(LENGTH, seed=3)["power"]
    return base, labelled_signal("power", base, seed=3)


def test_the_same_seed_gives_the_same_signal_and_another_seed_another() -> None:
    first = labelled_signal("vibration", base_signals(3000, seed=5)["vibration"], seed=5)
    again = labelled_signal("vibration", base_signals(3000, seed=5)["vibration"], seed=5)
    other = labelled_signal("vibration", base_signals(3000, seed=6)["vibration"], seed=6)

    assert first == again
    assert first.values != other.values and first.labels != other.labels


def test_anomalies_of_every_kind_follow_one_another_after_the_lead_in(
    power: tuple[list[float], Signal],
) -> None:
    _, signal = power

    assert {label.kind for label in signal.labels} == set(Kind)
    assert signal.labels[0].start == LEAD_IN
    assert all(a.end < b.start for a, b in zip(signal.labels, signal.labels[1:], strict=False))


def test_outside_the_labels_the_signal_is_the_machine_s_shifted_by_what_came_before(
    power: tuple[list[float], Signal],
) -> None:
    base, signal = power
    offset = _offsets(base, signal)
    marks = signal.label_of_each()

    quiet = [i for i in range(1, LENGTH) if not marks[i] and not marks[i - 1]]
    assert quiet and all(offset[i] == pytest.approx(offset[i - 1]) for i in quiet)
    assert all(offset[i] == 0 for i in range(LEAD_IN))


def test_a_spike_is_one_reading_away_from_the_machine_s(power: tuple[list[float], Signal]) -> None:
    base, signal = power
    offset, scale = _offsets(base, signal), statistics.pstdev(base)
    for label in _labels(signal, Kind.SPIKE):
        assert label.start == label.end
        assert abs(offset[label.start] - offset[label.start - 1]) >= 6 * scale
        assert offset[label.start + 1] == pytest.approx(offset[label.start - 1])


@pytest.mark.parametrize("kind", [Kind.LEVEL_SHIFT, Kind.DRIFT])
def test_a_shift_or_drift_moves_the_level_over_its_window_and_stays(
    kind: Kind, power: tuple[list[float], Signal]
) -> None:
    base, signal = power
    offset, scale = _offsets(base, signal), statistics.pstdev(base)
    for label in _labels(signal, kind):
        window = offset[label.start - 1 : label.end + 1]
        assert abs(window[-1] - window[0]) >= 3 * scale
        assert window == sorted(window) or window == sorted(window, reverse=True)
        assert offset[label.end + 1] == pytest.approx(offset[label.end])


def test_a_stuck_sensor_repeats_one_value_over_its_window(power: tuple[list[float], Signal]) -> None:
    base, signal = power
    offset = _offsets(base, signal)
    for label in _labels(signal, Kind.STUCK):
        assert len(set(signal.values[label.start : label.end + 1])) == 1
        assert label.end - label.start + 1 >= 100
        assert offset[label.end + 1] == pytest.approx(offset[label.start - 1])


def test_a_noise_burst_adds_noise_over_its_window_only(power: tuple[list[float], Signal]) -> None:
    base, signal = power
    offset, scale = _offsets(base, signal), statistics.pstdev(base)
    for label in _labels(signal, Kind.NOISE_BURST):
        assert statistics.pstdev(offset[label.start : label.end + 1]) >= 1.5 * scale
        assert offset[label.end + 1] == pytest.approx(offset[label.start - 1])


def test_the_command_line_writes_labelled_csv(tmp_path: Path) -> None:
    out = tmp_path / "signal.csv"

    main(["--channel", "spindle_temp", "--readings", "2000", "--seed", "4", "--out", str(out)])

    rows = list(csv.DictReader(out.open()))
    signal = labelled_signal("spindle_temp", base_signals(2000, seed=4)["spindle_temp"], seed=4)
    assert len(rows) == 2000
    assert [row["label"] for row in rows] == signal.label_of_each()
    assert {row["channel"] for row in rows} == {"spindle_temp"}
    assert [int(row["ts"]) for row in rows] == signal.ts_ms


def _offsets(base: list[float], signal: Signal) -> list[float]:
    return [round(value - original, 9) for value, original in zip(signal.values, base, strict=True)]


def _labels(signal: Signal, kind: Kind) -> list[Label]:
    labels = [label for label in signal.labels if label.kind is kind]
    assert labels
    return labels
