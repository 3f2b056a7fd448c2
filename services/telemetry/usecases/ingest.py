"""Ingest: readings checked against their devices' profiles and handed to the bus, with
the broker's confirmation, before the caller is told they are accepted."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.kit.batches import AcceptedBatch, Scalar
from services.kit.errors import FieldViolation, InvalidArgument
from services.kit.validation import require_uuid
from services.telemetry.rules import DeviceRules, Reason, Refusal
from services.telemetry.settings import IngestLimits

DAY_MS = 86_400_000
DEFAULT_LIMITS = IngestLimits()

SampleInput = tuple[int, Mapping[str, Any]]
DeviceInput = tuple[str, Sequence[SampleInput]]


@dataclass(frozen=True, slots=True)
class Rejection:
    """A rejected reading; a whole sample when `channel` is empty, a whole device when
    `sample_index` is -1."""

    device_index: int
    sample_index: int
    channel: str
    reason: Reason
    detail: str


@dataclass(frozen=True, slots=True)
class Flag:
    """An accepted reading outside its channel's min/max."""

    device_index: int
    sample_index: int
    channel: str
    detail: str


@dataclass
class IngestResult:
    accepted: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)

    def reject(self, readings: int, where: tuple[int, int, str], refusal: Refusal) -> None:
        self.rejected += readings
        self.rejections.append(Rejection(*where, refusal.reason, refusal.detail))


_UNKNOWN_DEVICE = Refusal(Reason.UNKNOWN_DEVICE, "no such device")
_NOT_ACCEPTING = Refusal(Reason.DEVICE_NOT_ACCEPTING, "the device is suspended or decommissioned")
_UNKNOWN_CHANNEL = Refusal(Reason.UNKNOWN_CHANNEL, "the device's profile has no such channel")
_IN_THE_FUTURE = Refusal(Reason.IN_THE_FUTURE, "timestamp later than now plus the allowed clock skew")
_TOO_OLD = Refusal(Reason.TOO_OLD, "timestamp older than the tenant's retention")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Ingest:
    def __init__(
        self,
        rules: Callable[[str], DeviceRules | None],
        retention_days: Callable[[str], int],
        send: Callable[[AcceptedBatch], None],
        limits: IngestLimits = DEFAULT_LIMITS,
        now_ms: Callable[[], int] = _now_ms,
        on_rejected: Callable[[str, int], None] = lambda tenant_id, rejected: None,
    ) -> None:
        self._rules = rules
        self._retention_days = retention_days
        self._send = send
        self._limits = limits
        self._now_ms = now_ms
        self._on_rejected = on_rejected

    def ingest(self, tenant_id: str, devices: Sequence[DeviceInput]) -> IngestResult:
        """Accepts the good readings and reports each bad one; raises InvalidArgument for a
        malformed or oversized request, Unavailable when the bus did not take the readings."""
        tenant_id = require_uuid(tenant_id, "tenant_id")
        self._check_size(devices)
        retention = self._retention_days(tenant_id)
        now = self._now_ms()
        window = (now - retention * DAY_MS, now + self._limits.future_skew_ms)
        result = IngestResult()
        accepted = []
        for index, (device_id, samples) in enumerate(devices):
            rules = self._device(tenant_id, device_id)
            if rules is None or not rules.accepting:
                readings = sum(len(values) for _, values in samples)
                result.reject(readings, (index, -1, ""), _NOT_ACCEPTING if rules else _UNKNOWN_DEVICE)
                continue
            kept = _check_samples(index, rules, samples, window, result)
            if kept:
                accepted.append((rules.device_id, kept))
        if accepted:
            self._send(AcceptedBatch(str(uuid.uuid4()), tenant_id, retention, accepted))
        if result.rejected:
            self._on_rejected(tenant_id, result.rejected)
        return result

    def _check_size(self, devices: Sequence[DeviceInput]) -> None:
        readings = sum(len(values) for _, samples in devices for _, values in samples)
        if readings > self._limits.max_readings:
            violation = FieldViolation(
                "devices", f"{readings} readings; at most {self._limits.max_readings} in one request"
            )
            raise InvalidArgument([violation], "too many readings")

    def _device(self, tenant_id: str, device_id: str) -> DeviceRules | None:
        try:
            canonical = str(uuid.UUID(device_id))
        except ValueError:
            return None
        rules = self._rules(canonical)
        # Another tenant's device is refused exactly as one that does not exist.
        return rules if rules is not None and rules.tenant_id == tenant_id else None


def _check_samples(
    device_index: int,
    rules: DeviceRules,
    samples: Sequence[SampleInput],
    window: tuple[int, int],
    result: IngestResult,
) -> list[tuple[int, dict[str, Scalar]]]:
    """The accepted values of the samples of one device; the rest go into `result`."""
    earliest, latest = window
    channels = rules.channels
    kept_samples = []
    accepted = 0
    for sample_index, (ts, values) in enumerate(samples):
        if not earliest <= ts <= latest:
            refusal = _TOO_OLD if ts < earliest else _IN_THE_FUTURE
            result.reject(len(values), (device_index, sample_index, ""), refusal)
            continue
        kept = {}
        for channel, value in values.items():
            rule = channels.get(channel)
            checked = rule.check(value) if rule is not None else _UNKNOWN_CHANNEL
            if type(checked) is Refusal:
                result.reject(1, (device_index, sample_index, channel), checked)
                continue
            if rule.out_of_range(checked):
                detail = f"outside [{rule.minimum}, {rule.maximum}]"
                result.flags.append(Flag(device_index, sample_index, channel, detail))
            kept[channel] = checked
        if kept:
            kept_samples.append((ts, kept))
            accepted += len(kept)
    result.accepted += accepted
    return kept_samples
