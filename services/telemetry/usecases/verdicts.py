"""Ingest's verdicts on readings, whichever shape they came in: rejections, flags and
the refusals that concern a whole device, sample or channel."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.telemetry.rules import Reason, Refusal


@dataclass(frozen=True, slots=True)
class Rejection:
    """A rejected reading; a whole sample when `channel` is empty, a whole device when
    `sample_index` is -1, and a whole column of a device's columns when `sample_index`
    is -1 with a channel."""

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


UNKNOWN_DEVICE = Refusal(Reason.UNKNOWN_DEVICE, "no such device")
NOT_ACCEPTING = Refusal(Reason.DEVICE_NOT_ACCEPTING, "the device is suspended or decommissioned")
UNKNOWN_CHANNEL = Refusal(Reason.UNKNOWN_CHANNEL, "the device's profile has no such channel")
IN_THE_FUTURE = Refusal(Reason.IN_THE_FUTURE, "timestamp later than now plus the allowed clock skew")
TOO_OLD = Refusal(Reason.TOO_OLD, "timestamp older than the tenant's retention")


LENGTH_MISMATCH = Refusal(Reason.LENGTH_MISMATCH, "the column's values are not one per sample it marks")
DUPLICATE_CHANNEL = Refusal(Reason.DUPLICATE_CHANNEL, "the device has more than one column of this channel")


def outside_window(ts: int, earliest: int) -> Refusal:
    """Why a sample outside the accepted window of time is refused."""
    return TOO_OLD if ts < earliest else IN_THE_FUTURE
