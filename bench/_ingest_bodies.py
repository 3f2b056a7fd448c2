"""The ingest benchmark's readings as each path takes them: gRPC rows and columns, JSON
rows and columns, and rows for the COPY reference. Every shape holds the same values,
1,000 devices x 10 float channels a second."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from gantry.v1 import telemetry_pb2 as pb

CHANNELS = [{"key": f"ch{i}", "value_type": "float", "min": 0.0, "max": 1000.0} for i in range(10)]
DEVICES_PER_REQUEST = 100
# Rows carry 100 devices x 10 s (10,000 readings) a request, as an edge gateway would;
# columns 100 devices x 100 s (100,000 readings), as a partner sending many samples does.
SECONDS_PER_REQUEST = 10
SECONDS_PER_COLUMNAR_REQUEST = 100


def value(second: int, channel: int) -> float:
    return (second * 7 + channel) % 997 + 0.5


def blocks(devices: list[str], seconds: int, per_request: int) -> Iterator[tuple[list[str], range]]:
    """The devices and seconds of each request covering every device for `seconds`."""
    for first_second in range(0, seconds, per_request):
        for first_device in range(0, len(devices), DEVICES_PER_REQUEST):
            stamps = range(first_second, min(first_second + per_request, seconds))
            yield devices[first_device : first_device + DEVICES_PER_REQUEST], stamps


def requests(tenant: str, devices: list[str], start_ms: int, seconds: int) -> Iterator[bytes]:
    """Serialised `Ingest` requests covering every device for `seconds` from `start_ms`."""
    for group, stamps in blocks(devices, seconds, SECONDS_PER_REQUEST):
        request = pb.IngestRequest(
            tenant_id=tenant,
            devices=[
                pb.DeviceSamples(
                    device_id=device,
                    samples=[
                        pb.Sample(
                            ts_ms=start_ms + 1000 * s,
                            values={
                                c["key"]: pb.Value(float_value=value(s, i)) for i, c in enumerate(CHANNELS)
                            },
                        )
                        for s in stamps
                    ],
                )
                for device in group
            ],
        )
        yield request.SerializeToString()


def columnar_requests(tenant: str, devices: list[str], start_ms: int, seconds: int) -> Iterator[bytes]:
    """Serialised `IngestColumnar` requests of the same readings as `requests`."""
    for group, stamps in blocks(devices, seconds, SECONDS_PER_COLUMNAR_REQUEST):
        columns = [
            pb.Column(channel=c["key"], float_values=pb.DoubleArray(values=[value(s, i) for s in stamps]))
            for i, c in enumerate(CHANNELS)
        ]
        ts = [start_ms + 1000 * s for s in stamps]
        request = pb.IngestColumnarRequest(
            tenant_id=tenant,
            devices=[pb.DeviceColumns(device_id=device, ts_ms=ts, columns=columns) for device in group],
        )
        yield request.SerializeToString()


def json_bodies(bodies: list[bytes]) -> list[bytes]:
    """The readings of `Ingest` requests as the partner API takes them in samples."""
    return _as_json(bodies, pb.IngestRequest, _in_samples)


def json_column_bodies(bodies: list[bytes]) -> list[bytes]:
    """The readings of `IngestColumnar` requests as the partner API takes them in columns."""
    return _as_json(bodies, pb.IngestColumnarRequest, _in_columns)


def _as_json(bodies: list[bytes], kind: Any, device_json: Callable[[Any], dict]) -> list[bytes]:
    return [
        orjson.dumps({"devices": [device_json(device) for device in kind.FromString(body).devices]})
        for body in bodies
    ]


def _in_samples(device: pb.DeviceSamples) -> dict:
    samples = [
        {"ts": s.ts_ms, "values": {key: reading.float_value for key, reading in s.values.items()}}
        for s in device.samples
    ]
    return {"device_id": device.device_id, "samples": samples}


def _in_columns(device: pb.DeviceColumns) -> dict:
    values = {c.channel: list(c.float_values.values) for c in device.columns}
    return {"device_id": device.device_id, "ts": list(device.ts_ms), "values": values}


def reference_rows(bodies: list[bytes], retention_days: int) -> list[tuple]:
    rows = []
    for body in bodies:
        for device in pb.IngestRequest.FromString(body).devices:
            device_id = uuid.UUID(device.device_id)
            for sample in device.samples:
                ts = datetime.fromtimestamp(sample.ts_ms / 1000, UTC)
                for key, reading in sample.values.items():
                    rows.append((device_id, key, ts, retention_days, reading.float_value, None, None, None))
    return rows
