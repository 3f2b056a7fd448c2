"""The registry's own settings, read when asked for."""

from __future__ import annotations

from services.kit.settings import env


def device_reads_gather_seconds() -> float:
    """How long `registry-api`, under load, goes on gathering device reads into one query
    while they keep arriving (`services.kit.batching.Coalescer`)."""
    return float(env("DEVICE_READS_GATHER_MS", "0.5")) / 1000
