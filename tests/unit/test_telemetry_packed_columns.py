"""Samples packed a batch at a time, from columns, give each row the very bytes `pack`
gives the sample alone: decimals, raw doubles (inf, nan, -0.0, beyond 2**53), int64
limits and bools alike."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.kit.batches import Scalar
from services.telemetry.packed_columns import pack_columns
from services.telemetry.packing import ChannelSet, pack

EXAMPLES = settings(max_examples=300, deadline=None)
EXACT_LIMIT = 2.0**53
floats = st.one_of(
    st.floats(),
    st.floats(-1e6, 1e6).map(lambda v: round(v, 2)),
    st.floats(-1e3, 1e3).map(lambda v: round(v, 6)),
    # Where scaling by a power of ten passes 2**53 before the decimals run out.
    st.floats(2.0**49, EXACT_LIMIT),
    st.floats(-EXACT_LIMIT, -(2.0**49)),
    st.sampled_from([EXACT_LIMIT, -EXACT_LIMIT, EXACT_LIMIT - 1, 1 - EXACT_LIMIT, -0.0, 0.0, 0.5, 2.5, 1e-7]),
)
VALUES = {
    "f": (floats, np.float64),
    "i": (st.integers(-(2**63), 2**63 - 1), np.int64),
    "b": (st.booleans(), np.bool_),
}
channel_sets = st.dictionaries(st.text(min_size=1, max_size=4), st.sampled_from("fib"), max_size=5).map(
    lambda kinds: tuple(sorted(kinds.items()))
)


@st.composite
def columns_of(draw: st.DrawFn, channel_set: ChannelSet) -> list[list[Scalar]]:
    rows = draw(st.integers(0, 12))
    return [draw(st.lists(VALUES[kind][0], min_size=rows, max_size=rows)) for _, kind in channel_set]


@EXAMPLES
@given(st.data(), channel_sets)
def test_each_row_packs_as_its_sample_alone(data: st.DataObject, channel_set: ChannelSet) -> None:
    columns = data.draw(columns_of(channel_set)) if channel_set else []
    arrays = [np.array(c, VALUES[kind][1]) for c, (_, kind) in zip(columns, channel_set, strict=True)]
    flat, lengths = pack_columns(channel_set, arrays)
    assert flat.dtype == np.uint8 and lengths.dtype == np.int64
    ends = np.cumsum(lengths).tolist()
    assert flat.size == (ends[-1] if ends else 0)
    for row, (start, end) in enumerate(zip([0, *ends], ends, strict=False)):
        sample = {channel: column[row] for (channel, _), column in zip(channel_set, columns, strict=True)}
        assert flat[start:end].tobytes() == pack(channel_set, sample)


def test_text_channels_are_refused() -> None:
    with pytest.raises(ValueError, match="kind 's'"):
        pack_columns((("note", "s"),), [np.array(["idle"])])


def test_columns_of_another_type_or_length_are_refused() -> None:
    with pytest.raises(ValueError, match="int64"):
        pack_columns((("temp", "f"),), [np.array([1, 2])])
    with pytest.raises(ValueError, match="lengths"):
        pack_columns((("on", "b"), ("temp", "f")), [np.array([True]), np.array([1.0, 2.0])])
