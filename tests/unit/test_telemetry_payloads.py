"""Readings in JSON read into ingest's input, and the checks each value meets."""

from __future__ import annotations

import pytest

from services.kit.errors import InvalidArgument
from services.telemetry.payloads import batch_devices, thingsboard_samples
from services.telemetry.rules import ChannelRule, Reason, Refusal

NOW = 1_764_000_000_000


def violation(call: object) -> tuple[str, str]:
    with pytest.raises(InvalidArgument) as raised:
        call()  # type: ignore[operator]
    [found] = raised.value.violations
    return found.field, found.description


def test_a_batch_takes_milliseconds_seconds_and_rfc3339() -> None:
    body = (
        b'{"devices": [{"device_id": "d-1", "samples": ['
        b'{"ts": 1764000000123, "values": {"t": 1.5}},'
        b'{"ts": 1764000000.5, "values": {"t": 2}},'
        b'{"ts": "2025-11-24T16:00:00.250Z", "values": {"mode": "idle"}}]}]}'
    )
    assert batch_devices(body) == [
        (
            "d-1",
            [(1764000000123, {"t": 1.5}), (1764000000500, {"t": 2}), (1764000000250, {"mode": "idle"})],
        )
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b"[]", "devices"),
        (b'{"devices": {}}', "devices"),
        (b'{"devices": [7]}', "devices[0]"),
        (b'{"devices": [{"device_id": 1, "samples": []}]}', "devices[0].device_id"),
        (b'{"devices": [{"device_id": "d", "samples": {}}]}', "devices[0].samples"),
        (b'{"devices": [{"device_id": "d", "samples": [{"ts": 1}]}]}', "devices[0].samples[0]"),
        (
            b'{"devices": [{"device_id": "d", "samples": [{"ts": true, "values": {}}]}]}',
            "devices[0].samples[0].ts",
        ),
        (
            b'{"devices": [{"device_id": "d", "samples": [{"ts": -1, "values": {}}]}]}',
            "devices[0].samples[0].ts",
        ),
        (
            b'{"devices": [{"device_id": "d", "samples": [{"ts": 1e300, "values": {}}]}]}',
            "devices[0].samples[0].ts",
        ),
        (
            b'{"devices": [{"device_id": "d", "samples": [{"ts": "2025-11-24T16:00:00", "values": {}}]}]}',
            "devices[0].samples[0].ts",
        ),
        (
            b'{"devices": [{"device_id": "d", "samples": [{"ts": "yesterday", "values": {}}]}]}',
            "devices[0].samples[0].ts",
        ),
    ],
)
def test_a_malformed_batch_names_where(body: bytes, field: str) -> None:
    assert violation(lambda: batch_devices(body))[0] == field


def test_thingsboard_payloads_of_every_documented_shape() -> None:
    assert thingsboard_samples("d", b'{"temperature": 42, "on": true}', NOW) == [
        ("d", [(NOW, {"temperature": 42, "on": True})])
    ]
    assert thingsboard_samples("d", b'{"ts": 1764000000000, "values": {"t": 1}}', NOW) == [
        ("d", [(1764000000000, {"t": 1})])
    ]
    assert thingsboard_samples("d", b'[{"ts": 1764000000000, "values": {"t": 1}}, {"t": 2}]', NOW) == [
        ("d", [(1764000000000, {"t": 1}), (NOW, {"t": 2})])
    ]
    assert violation(lambda: thingsboard_samples("d", b'[{"t": 1}, 5]', NOW))[0] == "[1]"
    assert violation(lambda: thingsboard_samples("d", b'"text"', NOW))[0] == "body"


@pytest.mark.parametrize(
    ("value_type", "value", "reason"),
    [
        ("int", 2**63, Reason.NOT_ALLOWED),
        ("int", -(2**63) - 1, Reason.NOT_ALLOWED),
        ("float", 10**400, Reason.NOT_FINITE),
        ("float", float("-inf"), Reason.NOT_FINITE),
        ("float", True, Reason.WRONG_TYPE),
        ("int", 1.0, Reason.WRONG_TYPE),
        ("bool", 1, Reason.WRONG_TYPE),
        ("string", ["a"], Reason.WRONG_TYPE),
        ("string", {"a": 1}, Reason.WRONG_TYPE),
        ("enum", None, Reason.WRONG_TYPE),
    ],
)
def test_values_the_database_cannot_hold_are_refused(value_type: str, value: object, reason: Reason) -> None:
    checked = ChannelRule(value_type).check(value)
    assert isinstance(checked, Refusal) and checked.reason == reason


def test_accepted_values_are_stored_in_their_channels_type() -> None:
    assert ChannelRule("float").check(3) == 3.0 and type(ChannelRule("float").check(3)) is float
    assert ChannelRule("int").check(2**63 - 1) == 2**63 - 1
    assert ChannelRule("enum", allowed=frozenset({"idle"})).check("idle") == "idle"
