"""What telemetry accepts of a device: its state and the typed channels of its profile.

These checks run once per reading on the ingest path, so they are plain functions
over plain values: no schema objects per reading.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from services.kit.batches import Scalar

NUMERIC_TYPES = frozenset({"float", "int"})
ACCEPTING_STATES = frozenset({"provisioned", "active"})
MAX_STRING_LENGTH = 1024
RETENTION_TIERS = (30, 90, 365, 1095, 3650)


class Reason(StrEnum):
    """Why a reading was rejected; the names are those of the gRPC contract."""

    UNKNOWN_DEVICE = "UNKNOWN_DEVICE"
    DEVICE_NOT_ACCEPTING = "DEVICE_NOT_ACCEPTING"
    UNKNOWN_CHANNEL = "UNKNOWN_CHANNEL"
    WRONG_TYPE = "WRONG_TYPE"
    NOT_ALLOWED = "NOT_ALLOWED"
    NOT_FINITE = "NOT_FINITE"
    TOO_LONG = "TOO_LONG"
    IN_THE_FUTURE = "IN_THE_FUTURE"
    TOO_OLD = "TOO_OLD"
    LENGTH_MISMATCH = "LENGTH_MISMATCH"
    DUPLICATE_CHANNEL = "DUPLICATE_CHANNEL"


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: Reason
    detail: str


@dataclass(frozen=True, slots=True)
class ChannelRule:
    value_type: str
    minimum: float | None = None
    maximum: float | None = None
    allowed: frozenset[str] = frozenset()

    @classmethod
    def from_profile(cls, channel: Mapping[str, Any]) -> ChannelRule:
        value_type = channel["value_type"]
        numeric = value_type in NUMERIC_TYPES
        return cls(
            value_type,
            channel.get("min") if numeric else None,
            channel.get("max") if numeric else None,
            frozenset(channel.get("allowed_values") or ()),
        )

    def check(self, value: Any) -> Scalar | Refusal:
        """The value as stored, or why it is refused."""
        return _CHECKS[self.value_type](self, value)

    def out_of_range(self, value: Scalar) -> bool:
        return (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        )

    @property
    def range_detail(self) -> str:
        """What a flag of a value out of range says."""
        return f"outside [{self.minimum}, {self.maximum}]"


@dataclass(frozen=True)
class DeviceRules:
    """A device as ingest checks it, with the registry's version it reflects."""

    device_id: str
    tenant_id: str
    state: str
    version: int
    channels: Mapping[str, ChannelRule]

    @property
    def accepting(self) -> bool:
        return self.state in ACCEPTING_STATES


def _wrong_type(rule: ChannelRule, value: Any) -> Refusal:
    kind = "no value" if value is None else f"a {_KIND_NAMES.get(type(value), type(value).__name__)}"
    return Refusal(Reason.WRONG_TYPE, f"expected {rule.value_type}, got {kind}")


def _float(rule: ChannelRule, value: Any) -> Scalar | Refusal:
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else _NOT_FINITE
    if kind is int:
        return float(value) if -_FLOAT_INT_LIMIT < value < _FLOAT_INT_LIMIT else _NOT_FINITE
    return _wrong_type(rule, value)


def _int(rule: ChannelRule, value: Any) -> Scalar | Refusal:
    if type(value) is not int:
        return _wrong_type(rule, value)
    return value if -(2**63) <= value < 2**63 else _BEYOND_INT64


def _bool(rule: ChannelRule, value: Any) -> Scalar | Refusal:
    return value if type(value) is bool else _wrong_type(rule, value)


def _string(rule: ChannelRule, value: Any) -> Scalar | Refusal:
    if type(value) is not str:
        return _wrong_type(rule, value)
    if len(value) > MAX_STRING_LENGTH:
        return Refusal(Reason.TOO_LONG, f"longer than {MAX_STRING_LENGTH} characters")
    if "\x00" in value:
        # The database cannot hold it; refused here so the writer never chokes on it.
        return Refusal(Reason.NOT_ALLOWED, "contains a NUL character")
    return value


def _enum(rule: ChannelRule, value: Any) -> Scalar | Refusal:
    if type(value) is not str:
        return _wrong_type(rule, value)
    if value not in rule.allowed:
        return Refusal(Reason.NOT_ALLOWED, "not one of the channel's allowed values")
    return value


_NOT_FINITE = Refusal(Reason.NOT_FINITE, "NaN, infinite or beyond a double's range")
_BEYOND_INT64 = Refusal(Reason.NOT_ALLOWED, "outside the 64-bit integer range")
# Integers from here on are beyond a double's range.
_FLOAT_INT_LIMIT = 2**1023
_KIND_NAMES = {float: "float", int: "int", bool: "bool", str: "string"}
_CHECKS: dict[str, Callable[[ChannelRule, Any], Scalar | Refusal]] = {
    "float": _float,
    "int": _int,
    "bool": _bool,
    "string": _string,
    "enum": _enum,
}
