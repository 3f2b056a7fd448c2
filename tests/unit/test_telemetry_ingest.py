"""Ingest's verdicts on each reading, with the devices' rules in memory and the accepted
batch recorded instead of sent: no broker, no database."""

from __future__ import annotations

import pytest

from services.kit.batches import AcceptedBatch
from services.kit.errors import InvalidArgument
from services.telemetry.rules import ChannelRule, DeviceRules, Reason
from services.telemetry.settings import IngestLimits
from services.telemetry.usecases.ingest import DAY_MS, DeviceInput, Ingest
from services.telemetry.usecases.verdicts import Flag, IngestResult, Rejection

TENANT = "00000000-0000-4000-8000-000000000001"
OTHER_TENANT = "00000000-0000-4000-8000-000000000002"
MILL = "00000000-0000-4000-8000-00000000000a"
PARKED = "00000000-0000-4000-8000-00000000000b"
FOREIGN = "00000000-0000-4000-8000-00000000000c"
UNKNOWN = "00000000-0000-4000-8000-00000000000d"
NOW = 1_764_000_000_000
RETENTION_DAYS = 30
LIMITS = IngestLimits(max_readings=10, future_skew_ms=1_000)
CHANNELS = {"temp": ChannelRule("float", 10.0, 90.0), "count": ChannelRule("int"), "on": ChannelRule("bool")}
DEVICES = {
    MILL: DeviceRules(MILL, TENANT, "active", 1, CHANNELS),
    PARKED: DeviceRules(PARKED, TENANT, "suspended", 1, CHANNELS),
    FOREIGN: DeviceRules(FOREIGN, OTHER_TENANT, "active", 1, CHANNELS),
}


def ingest(devices: list[DeviceInput]) -> tuple[IngestResult, list[AcceptedBatch]]:
    sent: list[AcceptedBatch] = []
    use_case = Ingest(DEVICES.get, lambda tenant: RETENTION_DAYS, sent.extend, LIMITS, lambda: NOW)
    return use_case.ingest(TENANT, devices), sent


@pytest.mark.parametrize(
    ("device_id", "reason"),
    [
        (UNKNOWN, Reason.UNKNOWN_DEVICE),
        (FOREIGN, Reason.UNKNOWN_DEVICE),
        ("not-a-uuid", Reason.UNKNOWN_DEVICE),
        (PARKED, Reason.DEVICE_NOT_ACCEPTING),
    ],
)
def test_a_device_refused_as_a_whole(device_id: str, reason: Reason) -> None:
    result, sent = ingest([(device_id, [(NOW, {"temp": 20.0, "count": 1}), (NOW, {"temp": 21.0})])])
    assert (result.accepted, result.rejected, sent) == (0, 3, [])
    [rejection] = result.rejections
    assert (rejection.device_index, rejection.sample_index, rejection.channel, rejection.reason) == (
        0,
        -1,
        "",
        reason,
    )


@pytest.mark.parametrize(
    ("ts", "reason"),
    [
        (NOW + LIMITS.future_skew_ms + 1, Reason.IN_THE_FUTURE),
        (NOW - RETENTION_DAYS * DAY_MS - 1, Reason.TOO_OLD),
    ],
)
def test_a_sample_outside_the_window_is_refused_as_a_whole(ts: int, reason: Reason) -> None:
    result, _ = ingest([(MILL, [(ts, {"temp": 20.0, "count": 1})])])
    assert (result.accepted, result.rejected) == (0, 2)
    assert [(r.sample_index, r.channel, r.reason) for r in result.rejections] == [(0, "", reason)]


@pytest.mark.parametrize("ts", [NOW + LIMITS.future_skew_ms, NOW - RETENTION_DAYS * DAY_MS])
def test_the_window_includes_its_bounds(ts: int) -> None:
    result, sent = ingest([(MILL, [(ts, {"temp": 20.0})])])
    assert (result.accepted, result.rejected) == (1, 0)
    assert sent[0].devices == [(MILL, [(ts, {"temp": 20.0})])]


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"speed": 1.0}, Reason.UNKNOWN_CHANNEL),
        ({"temp": "hot"}, Reason.WRONG_TYPE),
        ({"temp": float("nan")}, Reason.NOT_FINITE),
        ({"count": 2**63}, Reason.NOT_ALLOWED),
    ],
)
def test_a_bad_value_is_refused_alone(values: dict[str, object], reason: Reason) -> None:
    result, sent = ingest([(MILL, [(NOW, {"on": True, **values})])])
    [channel] = values
    assert result.rejections == [Rejection(0, 0, channel, reason, result.rejections[0].detail)]
    assert (result.accepted, result.rejected) == (1, 1)
    assert sent[0].devices == [(MILL, [(NOW, {"on": True})])]


def test_accepted_readings_go_out_as_one_batch_of_the_tenant_and_its_tier() -> None:
    result, sent = ingest(
        [
            (MILL.upper(), [(NOW, {"temp": 20, "count": 1}), (NOW - 1, {"temp": 95.5})]),
            (UNKNOWN, [(NOW, {"temp": 1.0})]),
        ]
    )
    [batch] = sent
    assert (batch.tenant_id, batch.retention_days) == (TENANT, RETENTION_DAYS)
    # The device's id as telemetry knows it; an int becomes the float channel's float.
    assert batch.devices == [(MILL, [(NOW, {"temp": 20.0, "count": 1}), (NOW - 1, {"temp": 95.5})])]
    assert type(batch.devices[0][1][0][1]["temp"]) is float
    assert (result.accepted, result.rejected) == (3, 1)
    assert result.flags == [Flag(0, 1, "temp", "outside [10.0, 90.0]")]


def test_nothing_is_sent_when_nothing_is_accepted() -> None:
    result, sent = ingest([(MILL, [(NOW, {"speed": 1.0})]), (MILL, [])])
    assert (result.accepted, result.rejected, sent) == (0, 1, [])


def test_a_request_over_the_limit_is_refused_as_a_whole() -> None:
    samples = [(NOW, {"temp": 20.0, "count": 1})] * 5
    assert ingest([(MILL, samples)])[0].accepted == 10
    with pytest.raises(InvalidArgument) as raised:
        ingest([(MILL, samples), (MILL, [(NOW, {"temp": 20.0})])])
    [violation] = raised.value.violations
    assert (violation.field, violation.description) == ("devices", "11 readings; at most 10 in one request")


def test_the_tenant_must_be_a_uuid() -> None:
    sent: list[AcceptedBatch] = []
    with pytest.raises(InvalidArgument):
        Ingest(DEVICES.get, lambda tenant: RETENTION_DAYS, sent.extend, LIMITS).ingest("tenant", [])


def test_requests_checked_for_one_call_look_each_device_up_once_and_go_in_one_batch_per_tenant() -> None:
    looked_up: list[str] = []

    def rules(device_id: str) -> DeviceRules | None:
        looked_up.append(device_id)
        return DEVICES.get(device_id)

    sent: list[AcceptedBatch] = []
    use_case = Ingest(rules, lambda tenant: RETENTION_DAYS, sent.extend, LIMITS, lambda: NOW)
    known: dict[str, DeviceRules | None] = {}
    checked = [
        use_case.check(TENANT, [(MILL, [(NOW - 2000, {"temp": 20.0})])], known),
        use_case.check(
            TENANT, [(MILL, [(NOW - 1000, {"temp": 21.0})]), (UNKNOWN, [(NOW, {"temp": 1.0})])], known
        ),
        use_case.check(OTHER_TENANT, [(FOREIGN, [(NOW, {"on": True})])], known),
    ]
    use_case.accept(checked)
    assert looked_up == [MILL, UNKNOWN, FOREIGN]
    assert [(c.result.accepted, c.result.rejected) for c in checked] == [(1, 0), (1, 1), (1, 0)]
    assert [(b.tenant_id, b.reading_count()) for b in sent] == [(TENANT, 2), (OTHER_TENANT, 1)]
