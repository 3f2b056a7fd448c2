"""Readings in JSON, as partners and devices send them over HTTP, read straight into
ingest's input with orjson: no schema objects per reading, so JSON costs no more
than protobuf on the hot path. Shape errors name where they are; the values
themselves are checked by ingest, reading by reading (or column by column)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import numpy as np
import orjson

from services.kit.errors import FieldViolation, InvalidArgument
from services.telemetry.columns import Column, DeviceColumns
from services.telemetry.usecases.ingest import DeviceInput, SampleInput

# Below this a numeric `ts` is in seconds: 10^11 ms is in 1973, 10^11 s in 5138.
SECONDS_BELOW = 10**11


def batch_devices(body: bytes) -> list[DeviceInput] | list[DeviceColumns]:
    """`{"devices": [{"device_id": ..., "samples": [{"ts": ..., "values": {...}}]}]}`, or
    in columns when the first device has `ts`:
    `{"devices": [{"device_id": ..., "ts": [...], "values": {"ch": [...]}}]}`"""
    data = _json(body)
    devices = data.get("devices") if type(data) is dict else None
    if type(devices) is not list:
        raise _invalid("devices", "must be a list of devices")
    if devices and type(devices[0]) is dict and "ts" in devices[0]:
        return [_columns(index, device) for index, device in enumerate(devices)]
    return [_device(index, device) for index, device in enumerate(devices)]


def thingsboard_samples(device_id: str, body: bytes, now_ms: int | None = None) -> list[DeviceInput]:
    """ThingsBoard's telemetry of one device: `{"key": value}`, `{"ts": ms, "values": {...}}`
    or an array of those; values without `ts` are stamped now, as ThingsBoard does."""
    data = _json(body)
    items = data if type(data) is list else [data]
    now = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    samples = []
    for index, item in enumerate(items):
        where = f"[{index}]" if type(data) is list else ""
        if type(item) is not dict:
            raise _invalid(where or "body", "must be a JSON object")
        if "ts" in item and "values" in item:
            samples.append(_sample(item, where))
        else:
            samples.append((now, item))
    return [(device_id, samples)]


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise _invalid("body", f"not valid JSON: {error}") from None


def _device(index: int, device: Any) -> DeviceInput:
    where = f"devices[{index}]"
    if type(device) is not dict:
        raise _invalid(where, "must be an object with device_id and samples")
    device_id, samples = device.get("device_id"), device.get("samples")
    if type(device_id) is not str:
        raise _invalid(f"{where}.device_id", "must be a string")
    if type(samples) is not list:
        raise _invalid(f"{where}.samples", "must be a list")
    return device_id, [_sample(s, f"{where}.samples[{i}]") for i, s in enumerate(samples)]


def _columns(index: int, device: Any) -> DeviceColumns:
    where = f"devices[{index}]"
    if type(device) is not dict:
        raise _invalid(where, "must be an object with device_id, ts and values, as the first device")
    device_id, ts, values = device.get("device_id"), device.get("ts"), device.get("values")
    if type(device_id) is not str:
        raise _invalid(f"{where}.device_id", "must be a string")
    if type(ts) is not list:
        raise _invalid(f"{where}.ts", "must be a list of timestamps, as in the first device")
    if type(values) is not dict:
        raise _invalid(f"{where}.values", "must be an object of arrays, one per channel")
    columns = [_column(f"{where}.values.{channel}", channel, array) for channel, array in values.items()]
    return DeviceColumns(device_id, _stamps(ts, f"{where}.ts"), columns)


def _column(where: str, channel: str, array: Any) -> Column:
    if type(array) is not list:
        raise _invalid(where, "must be an array of values, null where the channel has none")
    if None not in array:
        return Column(channel, array)
    present = np.fromiter((value is not None for value in array), dtype=bool, count=len(array))
    return Column(channel, [value for value in array if value is not None], present)


def _stamps(ts: list[Any], where: str) -> np.ndarray:
    """Every timestamp in ms, read at once when they are all numbers in range."""
    if set(map(type, ts)) <= {int, float}:
        # Exact: timestamps in range are below 2^53.
        numbers = np.array(ts, dtype=np.float64)
        if ((numbers >= 0) & (numbers < 2**53)).all():
            return np.where(numbers < SECONDS_BELOW, numbers * 1000, numbers).astype(np.int64)
    return np.array([_ts_ms(stamp, f"{where}[{i}]") for i, stamp in enumerate(ts)], dtype=np.int64)


def _sample(sample: Any, where: str) -> SampleInput:
    if type(sample) is not dict or type(sample.get("values")) is not dict:
        raise _invalid(where, 'must be {"ts": ..., "values": {...}}')
    return _ts_ms(sample.get("ts"), f"{where}.ts" if where else "ts"), sample["values"]


def _ts_ms(ts: Any, where: str) -> int:
    kind = type(ts)
    if kind is int or kind is float:
        if not 0 <= ts < 2**53:
            raise _invalid(where, "out of range")
        return int(ts * 1000) if ts < SECONDS_BELOW else int(ts)
    if kind is str:
        try:
            parsed = datetime.fromisoformat(ts)
        except ValueError:
            raise _invalid(where, "not an RFC 3339 timestamp") from None
        if parsed.tzinfo is None:
            raise _invalid(where, "needs a zone (Z or an offset)")
        return int(parsed.timestamp() * 1000)
    raise _invalid(where, "must be milliseconds, seconds or an RFC 3339 string")


def _invalid(field: str, description: str) -> InvalidArgument:
    return InvalidArgument([FieldViolation(field, description)], "malformed readings")
