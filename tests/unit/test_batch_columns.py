"""Accepted readings in columns on the readings queue: the binary form keeps every value,
typed, and every body that is not one is refused as a malformed batch."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.kit import batch_columns
from services.kit.batch_columns import KeptColumn, KeptColumns
from services.kit.batches import MAX_TS_MS, AcceptedBatch, MalformedBatch

BATCH_ID = "00000000-0000-4000-8000-0000000000b1"
TENANT = "00000000-0000-4000-8000-000000000001"
DEVICE = "00000000-0000-4000-8000-00000000000a"
OTHER = "00000000-0000-4000-8000-00000000000b"
STAMPS = np.array([0, 1_764_000_000_000, MAX_TS_MS], dtype=np.int64)


def columns_batch(*devices: KeptColumns, rows: list[Any] | None = None) -> AcceptedBatch:
    return AcceptedBatch(BATCH_ID, TENANT, 30, rows or [], list(devices))


def mill() -> KeptColumns:
    return KeptColumns(
        DEVICE,
        STAMPS,
        [
            KeptColumn("temp", np.array([20.5, -0.0, 1e300])),
            KeptColumn("count", np.array([2**63 - 1], dtype=np.int64), np.array([2])),
            KeptColumn("on", np.array([True, False]), np.array([0, 2])),
            KeptColumn("mode", ["idle", "运行"], np.array([0, 1])),
        ],
    )


def test_columns_survive_their_trip_through_the_queue_as_rows() -> None:
    rows = [(OTHER, [(5, {"t": 1.5})])]
    decoded = AcceptedBatch.decode(columns_batch(mill(), rows=rows).encode())
    assert (decoded.id, decoded.tenant_id, decoded.retention_days) == (BATCH_ID, TENANT, 30)
    assert decoded.reading_count() == 1 + 3 + 1 + 2 + 2
    assert decoded.in_rows().devices == [
        [OTHER, [[5, {"t": 1.5}]]],
        (
            DEVICE,
            [
                (0, {"temp": 20.5, "on": True, "mode": "idle"}),
                (1_764_000_000_000, {"temp": -0.0, "mode": "运行"}),
                (MAX_TS_MS, {"temp": 1e300, "count": 2**63 - 1, "on": False}),
            ],
        ),
    ]
    values = [v for _, sample in decoded.in_rows().devices[1][1] for v in sample.values()]
    assert [type(v) for v in values] == [float, bool, str, float, str, float, int, bool]
    assert str(values[3]) == "-0.0"


def test_a_consumer_keeps_the_columns_of_the_devices_it_wants() -> None:
    decoded = AcceptedBatch.decode(columns_batch(mill()).encode())
    assert decoded.in_rows(keep=lambda device_id: device_id != DEVICE).devices == []
    assert decoded.columns[0].columns[0].values.tolist() == [20.5, -0.0, 1e300]


@given(
    st.lists(st.floats(allow_nan=False), min_size=1, max_size=20).flatmap(
        lambda floats: st.tuples(
            st.just(floats),
            st.lists(st.booleans(), min_size=len(floats), max_size=len(floats)),
            st.lists(st.integers(-(2**63), 2**63 - 1), min_size=len(floats), max_size=len(floats)),
        )
    )
)
def test_any_values_come_back_as_they_went(values: tuple[list[float], list[bool], list[int]]) -> None:
    floats, present, ints = values
    stamps = np.arange(len(floats), dtype=np.int64)
    where = np.flatnonzero(present)
    device = KeptColumns(
        DEVICE,
        stamps,
        [
            KeptColumn("f", np.array(floats)),
            KeptColumn("i", np.array(ints, dtype=np.int64)[where], where),
            KeptColumn("s", [str(v) for v in where.tolist()], where),
        ],
    )
    [decoded] = AcceptedBatch.decode(columns_batch(device).encode()).columns
    assert decoded.ts_ms.tolist() == stamps.tolist()
    assert [c.channel for c in decoded.columns] == ["f", "i", "s"]
    assert decoded.columns[0].values.tobytes() == np.array(floats).tobytes()
    assert decoded.columns[1].values.tolist() == [ints[p] for p in where.tolist()]
    assert decoded.rows() == device.rows()


def binary(header: dict[str, Any], *arrays: np.ndarray, extra: bytes = b"") -> bytes:
    head = orjson.dumps({"id": BATCH_ID, "tenant_id": TENANT, "retention_days": 30, "devices": [], **header})
    data = b"".join(array.tobytes() for array in arrays)
    return batch_columns.MAGIC + struct.pack("<I", len(head)) + head + data + extra


ONE_SAMPLE = np.array([1_000], dtype=np.int64)


@pytest.mark.parametrize(
    "message",
    [
        batch_columns.MAGIC,
        batch_columns.MAGIC + struct.pack("<I", 50) + b"{}",
        binary({}),
        binary({"columns": None}),
        binary({"columns": [[DEVICE, 1, []]]}),
        binary({"columns": [[DEVICE, 1, []]]}, ONE_SAMPLE, extra=b"\0"),
        binary({"columns": [["not-a-uuid", 1, []]]}, ONE_SAMPLE),
        binary({"columns": [[7, 1, []]]}, ONE_SAMPLE),
        binary({"columns": [[DEVICE, -1, []]]}),
        binary({"columns": [[DEVICE, 1.0, []]]}, ONE_SAMPLE),
        binary({"columns": [[DEVICE, 1, []]]}, np.array([-1], dtype=np.int64)),
        binary({"columns": [[DEVICE, 1, []]]}, np.array([MAX_TS_MS + 1], dtype=np.int64)),
        binary({"columns": [[DEVICE, 1, [["t", "x", 1]]]]}, ONE_SAMPLE, np.array([1.0])),
        binary({"columns": [[DEVICE, 1, [["t", "f", 2]]]]}, ONE_SAMPLE, np.array([1.0])),
        binary({"columns": [[DEVICE, 1, [[None, "f", 1]]]]}, ONE_SAMPLE, np.array([1.0])),
        binary({"columns": [[DEVICE, 1, [["s", "s", "idle"]]]]}, ONE_SAMPLE),
        binary({"columns": [[DEVICE, 1, [["s", "s", [1]]]]]}, ONE_SAMPLE),
        binary({"columns": [[DEVICE, 2, [["t", "f", 1]]]]}, ONE_SAMPLE, ONE_SAMPLE, np.array([5], "<i4")),
        binary(
            {"columns": [[DEVICE, 3, [["t", "f", 2]]]]},
            np.zeros(3, np.int64),
            np.array([1, 0], "<i4"),
            np.array([1.0, 2.0]),
        ),
        binary({"columns": [[DEVICE, 1]]}, ONE_SAMPLE),
        binary({"columns": [[DEVICE, 0, []]]}),
    ],
)
def test_a_body_that_is_no_batch_in_columns_is_refused(message: bytes) -> None:
    with pytest.raises(MalformedBatch):
        AcceptedBatch.decode(message)


def test_rows_are_laid_out_in_columns_but_where_a_channel_mixes_types() -> None:
    rows = [
        (DEVICE, [(1, {"t": 1.5, "on": True}), (2, {}), (3, {"t": 2.5, "mode": "idle"})]),
        (OTHER, [(1, {"t": 1.5}), (2, {"t": 2})]),
    ]
    batch = AcceptedBatch(BATCH_ID, TENANT, 30, rows).in_columns()
    assert batch.devices == [rows[1]]
    [columns] = batch.columns
    assert columns.ts_ms.tolist() == [1, 3]
    laid_out = [
        (c.channel, c.kind, None if c.samples is None else c.samples.tolist()) for c in columns.columns
    ]
    assert laid_out == [("t", "f", None), ("on", "b", [0]), ("mode", "s", [1])]
    assert columns.rows() == [(1, {"t": 1.5, "on": True}), (3, {"t": 2.5, "mode": "idle"})]


_CHANNEL_VALUES = {
    "t": st.floats(allow_nan=False),
    "n": st.integers(-(2**63), 2**63 - 1),
    "on": st.booleans(),
}


@given(
    st.lists(
        st.fixed_dictionaries({}, optional=_CHANNEL_VALUES) | st.fixed_dictionaries(_CHANNEL_VALUES),
        max_size=20,
    )
)
def test_rows_laid_out_in_columns_come_back_as_they_were(samples: list[dict[str, Any]]) -> None:
    rows = [(DEVICE, [(ts, values) for ts, values in enumerate(samples)])]
    batch = AcceptedBatch(BATCH_ID, TENANT, 30, rows).in_columns()
    assert batch.devices == []
    kept = [(ts, values) for ts, values in rows[0][1] if values]
    assert [row for device in batch.columns for row in device.rows()] == kept
