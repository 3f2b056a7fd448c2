"""Streaming anomaly detection on one channel, example by example: warm-up, spikes and
their band, robustness to a spike, level shifts and relearning, stuck sensors, flat
channels, replays, the state going through bytes, and the settings' validation."""

from __future__ import annotations

import random

import pytest

from services.analytics.domain.anomalies import Anomaly, AnomalyKind, ChannelDetector, DetectorSettings

T0 = 1_700_000_000_000
SETTINGS = DetectorSettings(warmup=30)


def noise(count: int, level: float = 10.0, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(level, 1.0) for _ in range(count)]


def feed(detector: ChannelDetector, values: list[float], first: int = 0) -> list[Anomaly]:
    """Readings one a second from index `first`; every verdict given."""
    verdicts = [detector.update(T0 + (first + i) * 1000, value) for i, value in enumerate(values)]
    return [verdict for verdict in verdicts if verdict is not None]


def index_of(verdict: Anomaly) -> int:
    return (verdict.ts_ms - T0) // 1000


def test_no_verdict_during_warm_up() -> None:
    wild = [10.0, 1000.0, -1000.0, 10.0] + [5.0] * 26
    detector = ChannelDetector(SETTINGS)

    assert feed(detector, wild) == []
    assert feed(detector, [1e9, 10.0], first=30)[0].kind is AnomalyKind.SPIKE


def test_a_spike_is_flagged_with_the_band_expected_around_it() -> None:
    values = noise(600)
    values[500] = 30.0

    [verdict] = feed(ChannelDetector(SETTINGS), values)

    assert verdict.kind is AnomalyKind.SPIKE
    assert (index_of(verdict), verdict.value) == (500, 30.0)
    assert verdict.low == pytest.approx(10 - 4.5, abs=0.6)
    assert verdict.high == pytest.approx(10 + 4.5, abs=0.6)
    assert verdict.score == pytest.approx(20, abs=2)


def test_one_spike_does_not_widen_the_band_after_it() -> None:
    clean, spiked = noise(800), noise(800)
    spiked[500] = 1000.0
    clean[700] = spiked[700] = 30.0

    [later] = feed(ChannelDetector(SETTINGS), clean)
    first, later_after_spike = feed(ChannelDetector(SETTINGS), spiked)

    assert index_of(first) == 500
    assert later_after_spike.low == pytest.approx(later.low, rel=0.05)
    assert later_after_spike.high == pytest.approx(later.high, rel=0.05)


def test_a_level_shift_gives_one_verdict_then_the_new_level_is_learnt() -> None:
    values = noise(500) + noise(1000, level=16.0, seed=2)
    values[1200] = 16.0 + 10

    shift, spike = feed(ChannelDetector(SETTINGS), values)

    assert shift.kind is AnomalyKind.LEVEL_SHIFT
    assert 500 <= index_of(shift) <= 510
    assert shift.high < 16.0
    assert (spike.kind, index_of(spike)) == (AnomalyKind.SPIKE, 1200)
    assert (spike.low + spike.high) / 2 == pytest.approx(16.0, abs=0.5)


def test_a_sensor_stuck_for_n_readings_is_flagged_once() -> None:
    values = noise(500) + [10.25] * 200 + noise(300, seed=3)

    [verdict] = feed(ChannelDetector(SETTINGS), values)

    assert verdict.kind is AnomalyKind.STUCK
    assert index_of(verdict) == 500 + SETTINGS.stuck_readings - 1
    assert verdict.score == SETTINGS.stuck_readings


def test_a_channel_constant_by_nature_is_never_stuck() -> None:
    door_closed = [0.0] * 1000

    assert feed(ChannelDetector(SETTINGS), door_closed) == []


def test_float_noise_on_a_flat_signal_is_no_anomaly() -> None:
    flat = [1000.0, 1000.0000000001] * 500

    assert feed(ChannelDetector(SETTINGS), flat) == []


def test_a_replayed_older_or_non_finite_reading_changes_nothing() -> None:
    detector = ChannelDetector(SETTINGS)
    feed(detector, noise(100))
    before = detector.to_bytes()

    assert detector.update(T0 + 99_000, 1e9) is None
    assert detector.update(T0 + 50_000, 1e9) is None
    assert detector.update(T0 + 100_000, float("nan")) is None
    assert detector.to_bytes() == before


def test_the_state_through_bytes_gives_the_same_verdicts() -> None:
    values = noise(2000)
    values[699] = 40.0  # a spike pending confirmation when the state is stored
    values[1000:1100] = [10.5] * 100
    values[1500:] = [v + 8 for v in values[1500:]]
    original = ChannelDetector(SETTINGS)
    feed(original, values[:700])

    stored = original.to_bytes()
    restored = ChannelDetector.from_bytes(stored, SETTINGS)

    assert len(stored) < 200
    expected = feed(original, values[700:], first=700)
    assert [v.kind for v in expected] == [AnomalyKind.SPIKE, AnomalyKind.STUCK, AnomalyKind.LEVEL_SHIFT]
    assert feed(restored, values[700:], first=700) == expected
    assert restored.to_bytes() == original.to_bytes()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("alpha", 0.0),
        ("alpha", 1.0),
        ("warmup", 0),
        ("warmup", 10_001),
        ("threshold", 0.0),
        ("clip", -1.0),
        ("shift_slack", -0.5),
        ("shift_threshold", 0.0),
        ("stuck_readings", 1),
        ("min_sigma", 0.0),
    ],
)
def test_settings_out_of_range_are_refused_naming_the_field(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"^{field} "):
        DetectorSettings(**{field: value})
