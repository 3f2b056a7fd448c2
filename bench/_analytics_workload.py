"""The analytics benchmark's workloads: 1,000 machines of one profile with 10 float
channels, the rules watching them, their machine model and shift calendar, and ingest
requests of saw-tooth readings (see `bench/analytics.py`).

Two workloads: `alarms`, ten rules of the four classic kinds; `machines`, those and an
anomaly detector on every channel, with every machine's performance tracked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from gantry.v1 import telemetry_pb2 as pb

CHANNELS = [f"ch{i}" for i in range(10)]
DEVICES_PER_REQUEST = 100
SECONDS_PER_REQUEST = 10
PROBE = "ch9"
PROBE_THRESHOLD = 500


def _predicate(channel: str, operator: str, number: float, upper: float | None = None) -> dict[str, Any]:
    predicate: dict[str, Any] = {"channel": channel, "operator": operator, "value": {"number": number}}
    if upper is not None:
        predicate["upper"] = {"number": upper}
    return predicate


def _rule(name: str, severity: str, trigger: dict[str, Any], *predicates: dict[str, Any]) -> dict[str, Any]:
    if predicates:
        trigger = {**trigger, "condition": {"predicates": list(predicates)}}
    return {"name": name, "create": [{"severity": severity, "trigger": trigger}]}


# Thresholds the readings' saw-tooth values (0.5 to 996.5) cross now and then, each
# machine at its own moments.
ALARM_RULES = [
    _rule("ch0 high", "major", {"kind": "simple"}, _predicate("ch0", "gt", 990)),
    _rule("ch1 low", "minor", {"kind": "simple"}, _predicate("ch1", "lt", 3)),
    _rule("ch2 out of band", "warning", {"kind": "simple"}, _predicate("ch2", "outside", 5, 990)),
    _rule("ch3 hot for 30 s", "critical", {"kind": "duration", "seconds": 30}, _predicate("ch3", "gt", 700)),
    _rule(
        "ch4 and ch5 hot for 60 s",
        "major",
        {"kind": "duration", "seconds": 60},
        _predicate("ch4", "gt", 600),
        _predicate("ch5", "gt", 600),
    ),
    _rule("ch6 high 3 times", "minor", {"kind": "repeating", "count": 3}, _predicate("ch6", "gt", 900)),
    _rule("ch7 low 5 times", "warning", {"kind": "repeating", "count": 5}, _predicate("ch7", "lt", 50)),
    _rule("ch8 silent", "major", {"kind": "no_data", "seconds": 900, "channel": "ch8"}),
    _rule("machine silent", "critical", {"kind": "no_data", "seconds": 1800}),
    _rule("probe", "major", {"kind": "simple"}, _predicate(PROBE, "gt", PROBE_THRESHOLD)),
]
# A detector on every channel; its alarm clears after 5 minutes without a verdict.
ANOMALY_RULES = [
    *(
        {
            **_rule(f"{key} anomaly", "warning", {"kind": "anomaly", "channel": key}),
            "clear": {"unmet_for_seconds": 300},
        }
        for key in CHANNELS
    ),
]
# Machine performance tracked for every device: producing while ch0 is above 100,
# parts counted on ch1 (a saw-tooth: a counter reset at each fall), three shifts a weekday.
MACHINE_MODEL = {
    "states": {
        "conditions": [
            {"category": "producing", "condition": {"predicates": [_predicate("ch0", "gt", 100)]}}
        ],
        "default": "idle",
    },
    "produced": {"channel": "ch1"},
    "ideal_cycle_seconds": 1,
}
SITE = "bench"
SHIFTS = [
    {"name": n, "start": s, "end": e}
    for n, s, e in (("a", "06:00", "14:00"), ("b", "14:00", "22:00"), ("c", "22:00", "06:00"))
]
CALENDAR = {
    "zone": "Europe/Berlin",
    "week": {day: SHIFTS for day in ("monday", "tuesday", "wednesday", "thursday", "friday")},
}


@dataclass(frozen=True)
class Workload:
    rules: list[dict[str, Any]]
    machine_model: dict[str, Any] | None


WORKLOADS = {
    "alarms": Workload(ALARM_RULES, None),
    "machines": Workload(ALARM_RULES + ANOMALY_RULES, MACHINE_MODEL),
}

# A channel's value at a reading: (the device's number, the reading's time in s since
# the epoch, seconds since the phase began, the channel's index).
Values = Callable[[int, int, int, int], float]


def sawtooth(device: int, epoch_second: int, second: int, channel: int) -> float:
    """Continuous across phases, so that no phase begins with a jump of every channel.
    Each machine runs a second ahead of the one before: machines do not cross their
    thresholds in step, so the alarms the saw-tooth raises come at an even rate instead
    of all 1,000 machines' at once at moments that depend on the clock."""
    return ((epoch_second + device) * 7 + channel) % 997 + 0.5


def alternating(device: int, epoch_second: int, second: int, channel: int) -> float:
    """The probe's readings below its threshold for a request's worth of seconds (clearing
    what the saw-tooth raised), then above, and so on, on every machine at once."""
    if CHANNELS[channel] == PROBE:
        return 600.0 if second // SECONDS_PER_REQUEST % 2 == 1 else 100.0
    return sawtooth(device, epoch_second, second, channel)


def requests(tenant: str, devices: list[str], start_ms: int, seconds: int, values: Values) -> Iterator[bytes]:
    for first_second in range(0, seconds, SECONDS_PER_REQUEST):
        stamps = range(first_second, min(first_second + SECONDS_PER_REQUEST, seconds))
        for first_device in range(0, len(devices), DEVICES_PER_REQUEST):
            group = enumerate(devices[first_device : first_device + DEVICES_PER_REQUEST], first_device)
            request = pb.IngestRequest(
                tenant_id=tenant,
                devices=[
                    pb.DeviceSamples(device_id=device_id, samples=_samples(number, start_ms, stamps, values))
                    for number, device_id in group
                ],
            )
            yield request.SerializeToString()


def _samples(device: int, start_ms: int, stamps: range, values: Values) -> list[pb.Sample]:
    return [
        pb.Sample(
            ts_ms=start_ms + 1000 * s,
            values={
                key: pb.Value(float_value=values(device, start_ms // 1000 + s, s, i))
                for i, key in enumerate(CHANNELS)
            },
        )
        for s in stamps
    ]
