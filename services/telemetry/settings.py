"""Telemetry's own settings, from `GANTRY_TELEMETRY_*` variables read when asked for."""

from __future__ import annotations

from dataclasses import dataclass

from services.kit.batch_consumer import BatchSettings
from services.kit.settings import env
from services.telemetry.rules import RETENTION_TIERS


@dataclass(frozen=True)
class IngestLimits:
    max_readings: int = 50_000
    future_skew_ms: int = 300_000
    # Columns cost a fraction of rows to read and check, so a call may carry more.
    max_columnar_readings: int = 200_000

    @classmethod
    def from_env(cls) -> IngestLimits:
        return cls(
            max_readings=int(env("TELEMETRY_MAX_READINGS", str(cls.max_readings))),
            max_columnar_readings=int(env("TELEMETRY_MAX_COLUMNAR_READINGS", str(cls.max_columnar_readings))),
            future_skew_ms=1000 * int(env("TELEMETRY_FUTURE_SKEW_SECONDS", "300")),
        )


@dataclass(frozen=True)
class WriterSettings(BatchSettings):
    @classmethod
    def from_env(cls) -> WriterSettings:
        return cls(
            flush_readings=int(env("TELEMETRY_FLUSH_READINGS", str(cls.flush_readings))),
            flush_seconds=float(env("TELEMETRY_FLUSH_SECONDS", str(cls.flush_seconds))),
            prefetch=int(env("TELEMETRY_WRITER_PREFETCH", str(cls.prefetch))),
        )


def default_retention_days() -> int:
    days = int(env("TELEMETRY_RETENTION_DAYS", "365"))
    if days not in RETENTION_TIERS:
        raise SystemExit(f"GANTRY_TELEMETRY_RETENTION_DAYS must be one of {RETENTION_TIERS}")
    return days
