"""Readings packed into rows and rows compacted into chunks come back exactly as they went
in, row by row or a column at a time."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from services.kit.batches import Scalar
from services.telemetry.chunks import chunk_rows, compress, decompress
from services.telemetry.packing import channel_set_of, pack, unpack, unpack_columns

scalars = st.one_of(
    st.floats(),
    st.floats(-1e6, 1e6).map(lambda v: round(v, 2)),
    st.integers(-(2**63), 2**63 - 1),
    st.booleans(),
    st.text(max_size=20),
)
samples = st.dictionaries(st.text(min_size=1, max_size=8), scalars, min_size=1, max_size=6)


def same(a: Scalar, b: Scalar) -> bool:
    """Equal and of one type; floats bit for bit (nan and -0.0 too)."""
    if type(a) is not type(b):
        return False
    return struct.pack("<d", a) == struct.pack("<d", b) if isinstance(a, float) else a == b


@given(samples)
def test_a_sample_unpacks_to_its_values_in_channel_order(values: dict[str, Scalar]) -> None:
    channel_set = channel_set_of(values)
    unpacked = unpack(channel_set, pack(channel_set, values))
    assert [channel for channel, _ in unpacked] == sorted(values)
    assert all(same(value, values[channel]) for channel, value in unpacked)


kinds = [st.floats(), st.text(max_size=5), st.integers(-(2**63), 2**63 - 1), st.booleans()]
# Rows of four channels; the last one's kind drawn once for all rows.
column_rows = st.sampled_from(kinds).flatmap(
    lambda last: st.lists(
        st.tuples(
            st.floats(-1e4, 1e4).map(lambda v: round(v, 3)), st.integers(-5, 10**12), st.booleans(), last
        ),
        min_size=1,
    )
)


@given(column_rows)
def test_columns_unpack_like_rows(rows: list[tuple[float, int, bool, Scalar]]) -> None:
    channel_set = channel_set_of(dict(zip("abcd", rows[0], strict=True)))
    packed = [pack(channel_set, dict(zip("abcd", row, strict=True))) for row in rows]
    columns = unpack_columns(channel_set, packed, [3, 0, 2])
    for index, row in enumerate(packed):
        unpacked = [value for _, value in unpack(channel_set, row)]
        assert all(same(column[index], unpacked[p]) for p, column in zip([3, 0, 2], columns, strict=True))


@given(st.lists(st.tuples(st.integers(0, 2**50), st.integers(0, 9), samples), max_size=40))
def test_a_chunk_gives_back_its_rows(rows: list[tuple[int, int, dict[str, Scalar]]]) -> None:
    stamps = sorted(ts for ts, _, _ in rows)
    set_ids = [set_id for _, set_id, _ in rows]
    vals = [pack(channel_set_of(values), values) for _, _, values in rows]
    back = decompress(compress(chunk_rows(stamps, set_ids, vals)))
    assert (back.ts_us.tolist(), back.set_ids.tolist(), back.vals) == (stamps, set_ids, vals)
