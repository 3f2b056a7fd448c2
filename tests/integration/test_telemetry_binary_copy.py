"""Rows of readings copied as one block of binary COPY data, built with numpy, read back
from PostgreSQL exactly as the same rows copied one at a time by psycopg (key limits,
times long before 2000 and far after it, empty and long packed values); and the block is
byte for byte what psycopg formats of those rows."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.copy import Copy, FileWriter
from sqlalchemy import Engine, delete, select, text

from services.kit.batches import utc_of
from services.kit.db import driver_connection, make_engine
from services.kit.migrate import upgrade
from services.telemetry.packed_columns import pack_columns
from services.telemetry.queries import bulk
from services.telemetry.queries.binary_copy import copy_readings, readings_copy_data
from services.telemetry.rules import RETENTION_TIERS
from services.telemetry.storage import readings
from tests.support.backends import POSTGRES_URL, postgres_database

INT4 = np.iinfo(np.int32)
INT2 = np.iinfo(np.int16)
TIERS = np.array([RETENTION_TIERS[0], RETENTION_TIERS[-1]] * 4)
DEVICE_NUMBERS = np.array([INT4.max, INT4.min, 0, 1, 7, INT4.max, INT4.min, 2])
CHANNEL_SETS = np.array([INT4.min, INT4.max, 1, 0, 3, 2, INT4.max, -1])
TIMES_MS = np.array(
    [
        -62_135_596_800_000,  # 0001-01-01
        -1,  # the last ms of 1969
        946_684_799_999,  # the last ms before PostgreSQL's epoch, 2000-01-01
        946_684_800_000,
        1_764_000_000_123,
        4_102_444_800_000,  # 2100-01-01
        253_402_300_799_999,  # the last ms of 9999
        0,
    ]
)
CHANNEL_SET = (("count", "i"), ("on", "b"), ("temp", "f"))
COLUMNS = [
    np.array([2**63 - 1, -(2**63), 0, -1, 300, 1, 2, 3]),
    np.array([True, False, True, True, False, False, True, True]),
    np.array([55.23, float("nan"), -0.0, float("inf"), 2.0**60, 1e-300, 0.1, 1e308]),
]


@pytest.fixture
def engine() -> Iterator[Engine]:
    with postgres_database() as url:
        upgrade("telemetry", url)
        engine = make_engine(url)
        with engine.begin() as connection:
            # Days of every era in one partition per tier, beside the writer's day partitions.
            for days in set(TIERS.tolist()):
                connection.execute(
                    text(f"CREATE TABLE readings_r{days}_any PARTITION OF readings_r{days} DEFAULT")
                )
        try:
            yield engine
        finally:
            engine.dispose()


def _stored(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        query = select(readings).order_by(readings.c.device_number, readings.c.retention_days, readings.c.ts)
        return [tuple(row) for row in connection.execute(query)]


def test_rows_copied_in_one_block_read_back_as_rows_copied_one_by_one(engine: Engine) -> None:
    vals, lengths = pack_columns(CHANNEL_SET, COLUMNS)
    # One row with no values, one with many: the values' lengths are the rows' own.
    lengths[0] += lengths[1]
    lengths[1] = 0
    ends = np.cumsum(lengths).tolist()
    rows = [
        (number, tier, utc_of(ts_ms), set_id, vals[end - length : end].tobytes())
        for number, tier, ts_ms, set_id, end, length in zip(
            DEVICE_NUMBERS.tolist(),
            TIERS.tolist(),
            TIMES_MS.tolist(),
            CHANNEL_SETS.tolist(),
            ends,
            lengths.tolist(),
            strict=True,
        )
    ]
    with engine.begin() as connection:
        bulk.copy(driver_connection(connection), rows)
    one_by_one = _stored(engine)
    with engine.begin() as connection:
        connection.execute(delete(readings))
    data = readings_copy_data(DEVICE_NUMBERS, TIERS, TIMES_MS, CHANNEL_SETS, vals, lengths)
    with engine.begin() as connection:
        copy_readings(driver_connection(connection), data)
    assert _stored(engine) == one_by_one == sorted(rows)


def test_values_beyond_their_columns_are_refused() -> None:
    vals, lengths = np.zeros(2, np.uint8), np.array([1, 1])
    with pytest.raises(ValueError, match="device_number"):
        readings_copy_data([INT4.max + 1, 0], 30, [0, 0], [1, 1], vals, lengths)
    with pytest.raises(ValueError, match="retention_days"):
        readings_copy_data([1, 2], 2**15, [0, 0], [1, 1], vals, lengths)
    with pytest.raises(ValueError, match="ts_ms"):
        readings_copy_data([1, 2], 30, [0, 2**62], [1, 1], vals, lengths)
    with pytest.raises(ValueError, match="bytes of values"):
        readings_copy_data([1, 2], 30, [0, 0], [1, 1], vals, np.array([1, 2]))


row_lists = st.lists(
    st.tuples(
        st.integers(INT4.min, INT4.max),
        st.integers(INT2.min, INT2.max),
        # The times Python's datetime holds, as the rows copied one by one carry them.
        st.integers(-62_135_596_800_000, 253_402_300_799_999),
        st.integers(INT4.min, INT4.max),
        st.binary(max_size=40),
    ),
    max_size=20,
)


@settings(max_examples=100, deadline=None)
@given(row_lists)
def test_the_block_is_what_psycopg_formats_of_the_rows_one_by_one(
    rows: list[tuple[int, int, int, int, bytes]],
) -> None:
    numbers, tiers, times, sets, vals = zip(*rows, strict=True) if rows else ([], [], [], [], [])
    lengths = np.array([len(v) for v in vals], np.int64)
    flat = np.frombuffer(b"".join(vals), np.uint8)
    data = readings_copy_data(
        np.array(numbers, np.int64),
        np.array(tiers, np.int64),
        np.array(times, np.int64),
        np.array(sets, np.int64),
        flat,
        lengths,
    )
    formatted = io.BytesIO()
    with (
        psycopg.connect(POSTGRES_URL) as driver,
        driver.cursor() as cursor,
        Copy(cursor, binary=True, writer=FileWriter(formatted)) as copying,
    ):
        copying.set_types(bulk._COPY_TYPES)
        for number, tier, ts_ms, set_id, packed in rows:
            copying.write_row((number, tier, utc_of(ts_ms), set_id, packed))
    assert data.tobytes() == formatted.getvalue()
