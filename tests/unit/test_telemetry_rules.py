"""What a device's channels accept, value by value: every refusal and every accepted type."""

from __future__ import annotations

import math

import pytest

from services.telemetry.rules import (
    MAX_STRING_LENGTH,
    ChannelRule,
    DeviceRules,
    Reason,
    Refusal,
)

MODES = frozenset({"idle", "cutting"})


def rule(value_type: str) -> ChannelRule:
    return ChannelRule(value_type, allowed=MODES if value_type == "enum" else frozenset())


@pytest.mark.parametrize(
    ("value_type", "value", "stored"),
    [
        ("float", 1.5, 1.5),
        ("float", -0.0, -0.0),
        ("float", 3, 3.0),
        ("float", -(2**62), float(-(2**62))),
        ("float", 1e308, 1e308),
        ("int", 0, 0),
        ("int", 2**63 - 1, 2**63 - 1),
        ("int", -(2**63), -(2**63)),
        ("bool", True, True),
        ("bool", False, False),
        ("string", "", ""),
        ("string", "é" * MAX_STRING_LENGTH, "é" * MAX_STRING_LENGTH),
        ("enum", "idle", "idle"),
        ("enum", "cutting", "cutting"),
    ],
)
def test_accepted_values_are_stored_in_their_channels_type(
    value_type: str, value: object, stored: object
) -> None:
    checked = rule(value_type).check(value)
    assert checked == stored
    assert type(checked) is type(stored)


@pytest.mark.parametrize(
    ("value_type", "value", "reason", "detail"),
    [
        ("float", "1.5", Reason.WRONG_TYPE, "expected float, got a string"),
        ("float", True, Reason.WRONG_TYPE, "expected float, got a bool"),
        ("float", None, Reason.WRONG_TYPE, "expected float, got no value"),
        ("float", [1.0], Reason.WRONG_TYPE, "expected float, got a list"),
        ("float", math.nan, Reason.NOT_FINITE, "NaN, infinite or beyond a double's range"),
        ("float", math.inf, Reason.NOT_FINITE, "NaN, infinite or beyond a double's range"),
        ("float", -math.inf, Reason.NOT_FINITE, "NaN, infinite or beyond a double's range"),
        ("float", 2**1023, Reason.NOT_FINITE, "NaN, infinite or beyond a double's range"),
        ("float", -(2**1023), Reason.NOT_FINITE, "NaN, infinite or beyond a double's range"),
        ("int", 1.0, Reason.WRONG_TYPE, "expected int, got a float"),
        ("int", False, Reason.WRONG_TYPE, "expected int, got a bool"),
        ("int", "1", Reason.WRONG_TYPE, "expected int, got a string"),
        ("int", None, Reason.WRONG_TYPE, "expected int, got no value"),
        ("int", 2**63, Reason.NOT_ALLOWED, "outside the 64-bit integer range"),
        ("int", -(2**63) - 1, Reason.NOT_ALLOWED, "outside the 64-bit integer range"),
        ("bool", 1, Reason.WRONG_TYPE, "expected bool, got a int"),
        ("bool", "true", Reason.WRONG_TYPE, "expected bool, got a string"),
        ("bool", None, Reason.WRONG_TYPE, "expected bool, got no value"),
        ("string", 7, Reason.WRONG_TYPE, "expected string, got a int"),
        ("string", {"a": 1}, Reason.WRONG_TYPE, "expected string, got a dict"),
        ("string", None, Reason.WRONG_TYPE, "expected string, got no value"),
        (
            "string",
            "x" * (MAX_STRING_LENGTH + 1),
            Reason.TOO_LONG,
            f"longer than {MAX_STRING_LENGTH} characters",
        ),
        ("string", "a\x00b", Reason.NOT_ALLOWED, "contains a NUL character"),
        ("enum", "running", Reason.NOT_ALLOWED, "not one of the channel's allowed values"),
        ("enum", "", Reason.NOT_ALLOWED, "not one of the channel's allowed values"),
        ("enum", 1, Reason.WRONG_TYPE, "expected enum, got a int"),
        ("enum", None, Reason.WRONG_TYPE, "expected enum, got no value"),
    ],
)
def test_refused_values_say_why(value_type: str, value: object, reason: Reason, detail: str) -> None:
    assert rule(value_type).check(value) == Refusal(reason, detail)


def test_a_too_long_string_is_refused_for_its_length_before_its_characters() -> None:
    checked = rule("string").check("\x00" * (MAX_STRING_LENGTH + 1))
    assert isinstance(checked, Refusal) and checked.reason == Reason.TOO_LONG


@pytest.mark.parametrize(
    ("value", "out_of_range"),
    [(9.9, True), (10.0, False), (50, False), (90.0, False), (90.1, True)],
)
def test_limits_flag_values_outside_them(value: float, out_of_range: bool) -> None:
    assert ChannelRule("float", minimum=10.0, maximum=90.0).out_of_range(value) is out_of_range


@pytest.mark.parametrize("value", [-1e308, 0, 1e308])
def test_a_channel_without_limits_flags_nothing(value: float) -> None:
    assert not ChannelRule("float").out_of_range(value)


def test_a_channel_with_one_limit_checks_only_that_one() -> None:
    assert ChannelRule("int", minimum=0).out_of_range(-1)
    assert not ChannelRule("int", minimum=0).out_of_range(2**62)
    assert ChannelRule("int", maximum=0).out_of_range(1)


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ({"key": "t", "value_type": "float", "min": 10, "max": 90}, ChannelRule("float", 10, 90)),
        ({"key": "n", "value_type": "int", "min": None, "max": 5}, ChannelRule("int", None, 5)),
        ({"key": "on", "value_type": "bool", "min": 0, "max": 1}, ChannelRule("bool")),
        ({"key": "s", "value_type": "string", "max": 3}, ChannelRule("string")),
        (
            {"key": "mode", "value_type": "enum", "allowed_values": ["idle", "cutting"]},
            ChannelRule("enum", allowed=MODES),
        ),
        ({"key": "mode", "value_type": "enum", "allowed_values": None}, ChannelRule("enum")),
    ],
)
def test_a_profiles_channel_becomes_its_rule(channel: dict, expected: ChannelRule) -> None:
    assert ChannelRule.from_profile(channel) == expected


@pytest.mark.parametrize(
    ("state", "accepting"),
    [("provisioned", True), ("active", True), ("suspended", False), ("decommissioned", False)],
)
def test_only_provisioned_and_active_devices_accept_readings(state: str, accepting: bool) -> None:
    assert DeviceRules("d", "t", state, 1, {}).accepting is accepting
