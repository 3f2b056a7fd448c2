"""Ingest: readings checked against their devices' profiles and handed to the bus, with
the broker's confirmation, before the caller is told they are accepted."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from services.kit.batch_columns import KeptColumns
from services.kit.batches import AcceptedBatch, Samples, Scalar
from services.kit.errors import FieldViolation, InvalidArgument, ResourceExhausted
from services.kit.validation import require_uuid
from services.telemetry.columns import DeviceColumns
from services.telemetry.rules import DeviceRules, Refusal
from services.telemetry.settings import IngestLimits
from services.telemetry.usecases.columns import check_columns
from services.telemetry.usecases.verdicts import (
    NOT_ACCEPTING,
    UNKNOWN_CHANNEL,
    UNKNOWN_DEVICE,
    Flag,
    IngestResult,
    outside_window,
)

DAY_MS = 86_400_000
DEFAULT_LIMITS = IngestLimits()

SampleInput = tuple[int, Mapping[str, Any]]
DeviceInput = tuple[str, Sequence[SampleInput]]
Readings = TypeVar("Readings")
# Device id -> its rules (None: unknown), as one call found them.
Known = dict[str, DeviceRules | None]
# Checks one device's readings: those kept (in rows or columns), the verdicts on the others
# in the result.
Check = Callable[[int, DeviceRules, Readings, tuple[int, int], IngestResult], Samples | KeptColumns | None]


class TooManyReadings(ResourceExhausted):
    reason = "TOO_MANY_READINGS"

    def __init__(self, readings: int, limit: int) -> None:
        super().__init__(f"{readings} readings; at most {limit} in one request")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Checked:
    """One request's verdicts, and the readings it accepts once they are sent."""

    tenant_id: str
    retention_days: int
    result: IngestResult = field(default_factory=IngestResult)
    accepted: list[tuple[str, Samples]] = field(default_factory=list)
    accepted_columns: list[KeptColumns] = field(default_factory=list)


class Ingest:
    def __init__(
        self,
        rules: Callable[[str], DeviceRules | None],
        retention_days: Callable[[str], int],
        send: Callable[[Sequence[AcceptedBatch]], None],
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
        checked = self.check(tenant_id, devices)
        self.accept([checked])
        return checked.result

    def ingest_columns(self, tenant_id: str, devices: Sequence[DeviceColumns]) -> IngestResult:
        """The same for devices' readings in columns; TooManyReadings beyond the columnar limit."""
        checked = self.check_columns(tenant_id, devices)
        self.accept([checked])
        return checked.result

    def check(self, tenant_id: str, devices: Sequence[DeviceInput], known: Known | None = None) -> Checked:
        """The verdicts on one request's readings, and those it would accept, not sent yet;
        InvalidArgument for a malformed or oversized request. Requests checked for one call
        share `known`, the devices' rules as the call first found them."""
        tenant_id = require_uuid(tenant_id, "tenant_id")
        readings = sum(_sample_readings(samples) for _, samples in devices)
        if readings > self._limits.max_readings:
            violation = FieldViolation(
                "devices", f"{readings} readings; at most {self._limits.max_readings} in one request"
            )
            raise InvalidArgument([violation], "too many readings")
        return self._check(tenant_id, devices, _sample_readings, _check_samples, known)

    def check_columns(
        self, tenant_id: str, devices: Sequence[DeviceColumns], known: Known | None = None
    ) -> Checked:
        """The same for devices' readings in columns; TooManyReadings beyond the columnar limit."""
        tenant_id = require_uuid(tenant_id, "tenant_id")
        readings = sum(device.reading_count() for device in devices)
        if readings > self._limits.max_columnar_readings:
            raise TooManyReadings(readings, self._limits.max_columnar_readings)
        by_id = [(device.device_id, device) for device in devices]
        return self._check(tenant_id, by_id, DeviceColumns.reading_count, check_columns, known)

    def accept(self, requests: Sequence[Checked]) -> None:
        """Hands what checked requests accepted to the bus, one batch per tenant, all
        confirmed together; Unavailable, and nothing accepted, when the bus did not take them."""
        by_tenant: dict[str, list[Checked]] = {}
        for checked in requests:
            if checked.accepted or checked.accepted_columns:
                by_tenant.setdefault(checked.tenant_id, []).append(checked)
        batches = [
            AcceptedBatch(
                str(uuid.uuid4()),
                tenant_id,
                same[0].retention_days,
                [device for checked in same for device in checked.accepted],
                [device for checked in same for device in checked.accepted_columns],
            )
            for tenant_id, same in by_tenant.items()
        ]
        if batches:
            self._send(batches)
        for checked in requests:
            if checked.result.rejected:
                self._on_rejected(checked.tenant_id, checked.result.rejected)

    def _check(
        self,
        tenant_id: str,
        devices: Sequence[tuple[str, Readings]],
        count: Callable[[Readings], int],
        check: Check[Readings],
        known: Known | None,
    ) -> Checked:
        retention = self._retention_days(tenant_id)
        now = self._now_ms()
        window = (now - retention * DAY_MS, now + self._limits.future_skew_ms)
        checked = Checked(tenant_id, retention)
        result = checked.result
        for index, (device_id, readings) in enumerate(devices):
            rules = self._device(tenant_id, device_id, {} if known is None else known)
            if rules is None or not rules.accepting:
                result.reject(count(readings), (index, -1, ""), NOT_ACCEPTING if rules else UNKNOWN_DEVICE)
                continue
            kept = check(index, rules, readings, window, result)
            if isinstance(kept, KeptColumns):
                checked.accepted_columns.append(kept)
            elif kept:
                checked.accepted.append((rules.device_id, kept))
        return checked

    def _device(self, tenant_id: str, device_id: str, known: Known) -> DeviceRules | None:
        try:
            canonical = str(uuid.UUID(device_id))
        except ValueError:
            return None
        if canonical not in known:
            known[canonical] = self._rules(canonical)
        rules = known[canonical]
        # Another tenant's device is refused exactly as one that does not exist.
        return rules if rules is not None and rules.tenant_id == tenant_id else None


def _sample_readings(samples: Sequence[SampleInput]) -> int:
    return sum(len(values) for _, values in samples)


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
            result.reject(len(values), (device_index, sample_index, ""), outside_window(ts, earliest))
            continue
        kept = {}
        for channel, value in values.items():
            rule = channels.get(channel)
            checked = rule.check(value) if rule is not None else UNKNOWN_CHANNEL
            if type(checked) is Refusal:
                result.reject(1, (device_index, sample_index, channel), checked)
                continue
            if rule.out_of_range(checked):
                result.flags.append(Flag(device_index, sample_index, channel, rule.range_detail))
            kept[channel] = checked
        if kept:
            kept_samples.append((ts, kept))
            accepted += len(kept)
    result.accepted += accepted
    return kept_samples
