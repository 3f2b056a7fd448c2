"""The same readings sent in rows and in columns (as JSON reads them, and as protobuf
arrays) get the same verdicts, in the same order, and the same accepted batch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from services.kit.batches import AcceptedBatch
from services.telemetry.api.ingest import columns_of
from services.telemetry.columns import Column, DeviceColumns
from services.telemetry.rules import ChannelRule, DeviceRules
from services.telemetry.settings import IngestLimits
from services.telemetry.usecases.ingest import DAY_MS, DeviceInput, Ingest
from services.telemetry.usecases.verdicts import IngestResult
from tests.support.telemetry import column, columnar_request

TENANT = "00000000-0000-4000-8000-000000000001"
MILL = "00000000-0000-4000-8000-00000000000a"
NOW = 1_764_000_000_000
RETENTION_DAYS = 30
LIMITS = IngestLimits(future_skew_ms=1_000)
RULES = DeviceRules(
    MILL,
    TENANT,
    "active",
    1,
    {
        "temp": ChannelRule("float", 10.0, 90.0),
        "count": ChannelRule("int", -5, 100.5),
        "on": ChannelRule("bool"),
        "mode": ChannelRule("enum", allowed=frozenset({"idle", "cutting"})),
        "note": ChannelRule("string"),
    },
)
EXAMPLES = settings(max_examples=300, deadline=None)

STAMPS = st.one_of(
    st.integers(NOW - RETENTION_DAYS * DAY_MS, NOW + LIMITS.future_skew_ms),
    st.sampled_from([NOW - RETENTION_DAYS * DAY_MS - 1, NOW + LIMITS.future_skew_ms + 1, NOW]),
)
KINDS = {
    "float": st.one_of(st.floats(), st.sampled_from([9.5, 10.0, 90.0, 90.5, 50.0])),
    "int": st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-10, 110)),
    "bool": st.booleans(),
    "str": st.sampled_from(["idle", "cutting", "dancing", "", "x" * 1025, "a\x00b", "ok"]),
}
# Only JSON mixes kinds in one array, or holds integers beyond 64 bits and nested arrays.
MIXED = st.one_of(*KINDS.values(), st.integers(2**63, 2**64 - 1), st.lists(st.integers(), max_size=2))


@dataclass(frozen=True)
class SentColumn:
    channel: str
    kind: str
    present: list[bool]
    values: list[Any]

    def at(self) -> dict[int, Any]:
        samples = [i for i, on in enumerate(self.present) if on]
        return dict(zip(samples, self.values, strict=True))


@st.composite
def devices(draw: st.DrawFn) -> tuple[list[int], list[SentColumn]]:
    stamps = draw(st.lists(STAMPS, max_size=8))
    channels = draw(st.lists(st.sampled_from([*RULES.channels, "speed"]), unique=True, max_size=6))
    columns = []
    for channel in channels:
        kind = draw(st.sampled_from([*KINDS, "mixed"]))
        present = draw(st.lists(st.booleans(), min_size=len(stamps), max_size=len(stamps)))
        values = draw(st.lists(MIXED if kind == "mixed" else KINDS[kind], min_size=sum(present)))
        columns.append(SentColumn(channel, kind, present, values[: sum(present)]))
    return stamps, columns


def rows_of(stamps: list[int], columns: list[SentColumn]) -> list[DeviceInput]:
    values = [column.at() for column in columns]
    samples = [
        (ts, {c.channel: at[i] for c, at in zip(columns, values, strict=True) if i in at})
        for i, ts in enumerate(stamps)
    ]
    return [(MILL, samples)]


def json_columns(stamps: list[int], columns: list[SentColumn]) -> list[DeviceColumns]:
    read = [Column(c.channel, c.values, np.array(c.present, dtype=bool)) for c in columns]
    return [DeviceColumns(MILL, np.array(stamps, dtype=np.int64), read)]


def protobuf_columns(stamps: list[int], columns: list[SentColumn]) -> list[DeviceColumns]:
    sent = [column(c.channel, c.values, c.present) for c in columns]
    return columns_of(columnar_request(TENANT, (MILL, stamps, sent)))


def as_received(batch: AcceptedBatch) -> Any:
    """The batch's readings in rows as a consumer receives them off the bus, in JSON's
    lists: whichever way they travel."""
    return orjson.loads(orjson.dumps(AcceptedBatch.decode(batch.encode()).in_rows().devices))


def outcome(result: IngestResult, sent: list[AcceptedBatch]) -> tuple[Any, ...]:
    return (
        result.accepted,
        result.rejected,
        result.rejections,
        result.flags,
        [(batch.tenant_id, batch.retention_days, as_received(batch)) for batch in sent],
    )


def ingest(columnar: bool, devices: Any) -> tuple[Any, ...]:
    sent: list[AcceptedBatch] = []
    use_case = Ingest({MILL: RULES}.get, lambda tenant: RETENTION_DAYS, sent.extend, LIMITS, lambda: NOW)
    result = use_case.ingest_columns(TENANT, devices) if columnar else use_case.ingest(TENANT, devices)
    return outcome(result, sent)


@EXAMPLES
@given(devices())
def test_columns_as_json_reads_them_get_the_verdicts_of_rows(
    device: tuple[list[int], list[SentColumn]],
) -> None:
    assert ingest(True, json_columns(*device)) == ingest(False, rows_of(*device))


@EXAMPLES
@given(devices())
def test_columns_as_protobuf_arrays_get_the_verdicts_of_rows(
    device: tuple[list[int], list[SentColumn]],
) -> None:
    stamps, columns = device
    typed = [c for c in columns if c.kind != "mixed"]
    assert ingest(True, protobuf_columns(stamps, typed)) == ingest(False, rows_of(stamps, typed))
