"""Readings exported as CSV (RFC 4180), streamed in chunks."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from services.telemetry.domain import ChannelValue

# About one gRPC message of CSV.
CSV_CHUNK_CHARS = 64 * 1024


def csv_chunks(readings: Iterable[ChannelValue]) -> Iterator[bytes]:
    """Readings as CSV in chunks of about CSV_CHUNK_CHARS. The csv module's defaults are
    RFC 4180's: CRLF line ends, a field quoted when it holds a comma, a quote or a line
    break, and quotes doubled."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(("ts", "channel", "value"))
    for reading in readings:
        writer.writerow((_rfc3339(reading.ts), reading.channel, _csv_value(reading.value)))
        if buffer.tell() >= CSV_CHUNK_CHARS:
            yield _drain(buffer)
    if buffer.tell():
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    return data


def _rfc3339(ts: datetime) -> str:
    """UTC with milliseconds, the precision readings are sent with: 2026-03-01T12:00:00.250Z."""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _csv_value(value: float | int | bool | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
