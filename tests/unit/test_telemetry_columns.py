"""Readings in columns: a column checked a whole array at a time, and a device's columns
checked into verdicts indexed by sample and accepted readings laid out as rows; no
broker, no database."""

from __future__ import annotations

import math

import numpy as np
import pytest

from services.kit.batches import AcceptedBatch
from services.telemetry.api.ingest import columns_of
from services.telemetry.columns import Column, DeviceColumns, check_column
from services.telemetry.rules import ChannelRule, DeviceRules, Reason, Refusal
from services.telemetry.settings import IngestLimits
from services.telemetry.usecases.ingest import DAY_MS, Ingest, TooManyReadings
from services.telemetry.usecases.verdicts import Flag, IngestResult, Rejection
from tests.support.telemetry import column, columnar_request

TENANT = "00000000-0000-4000-8000-000000000001"
MILL = "00000000-0000-4000-8000-00000000000a"
FOREIGN = "00000000-0000-4000-8000-00000000000c"
NOW = 1_764_000_000_000
RETENTION_DAYS = 30
LIMITS = IngestLimits(max_columnar_readings=12, future_skew_ms=1_000)
CHANNELS = {
    "temp": ChannelRule("float", 10.0, 90.0),
    "count": ChannelRule("int", 0, 100.5),
    "on": ChannelRule("bool"),
    "mode": ChannelRule("enum", allowed=frozenset({"idle", "cutting"})),
}
DEVICES = {
    MILL: DeviceRules(MILL, TENANT, "active", 1, CHANNELS),
    FOREIGN: DeviceRules(FOREIGN, "00000000-0000-4000-8000-000000000002", "active", 1, CHANNELS),
}


def everywhere(values: list[object]) -> np.ndarray:
    return np.ones(len(values), dtype=bool)


def ingest(*devices: DeviceColumns) -> tuple[IngestResult, list[AcceptedBatch]]:
    sent: list[AcceptedBatch] = []
    use_case = Ingest(DEVICES.get, lambda tenant: RETENTION_DAYS, sent.extend, LIMITS, lambda: NOW)
    result = use_case.ingest_columns(TENANT, devices)
    # As the writer receives them off the bus, in rows.
    return result, [AcceptedBatch.decode(batch.encode()).in_rows() for batch in sent]


def device(ts: list[int], *columns: Column, device_id: str = MILL) -> DeviceColumns:
    return DeviceColumns(device_id, np.array(ts, dtype=np.int64), columns)


def verdicts(result: IngestResult) -> list[tuple[int, str, Reason]]:
    return [(r.sample_index, r.channel, r.reason) for r in result.rejections]


@pytest.mark.parametrize(
    "values",
    [np.array([1.0, 95.0, math.nan, -math.inf, 20.0]), [1.0, 95.0, math.nan, -math.inf, 20]],
    ids=["array", "json"],
)
def test_a_float_column_is_checked_at_once_and_refusals_worded_as_rows(values: object) -> None:
    checked = check_column(CHANNELS["temp"], values, everywhere([0] * 5))  # type: ignore[arg-type]
    assert checked.accepted.tolist() == [True, True, False, False, True]
    assert {p: r.reason for p, r in checked.refusals.items()} == {2: Reason.NOT_FINITE, 3: Reason.NOT_FINITE}
    assert checked.refusals[2] == CHANNELS["temp"].check(math.nan)
    assert checked.flagged.tolist() == [True, True, False, False, False]
    assert checked.stored.dtype == np.float64  # type: ignore[union-attr]


def test_ints_are_stored_as_floats_in_a_float_channel() -> None:
    checked = check_column(CHANNELS["temp"], np.array([20, 2**62]), everywhere([0, 0]))
    assert checked.stored.dtype == np.float64  # type: ignore[union-attr]
    assert checked.stored.tolist() == [20.0, float(2**62)]  # type: ignore[union-attr]
    assert checked.accepted.all()


def test_an_int_column_is_flagged_against_exact_bounds() -> None:
    # Doubles would round each value beside each bound onto it.
    rule = ChannelRule("int", float(-(2**62) + 1024), float(2**53))
    values = np.array([-(2**62) + 1023, -(2**62) + 1024, 2**53, 2**53 + 1], dtype=np.int64)
    checked = check_column(rule, values, everywhere([0] * 4))
    assert (
        checked.flagged.tolist()
        == [rule.out_of_range(v) for v in values.tolist()]
        == [
            True,
            False,
            False,
            True,
        ]
    )


@pytest.mark.parametrize(
    ("rule", "values", "reasons"),
    [
        (CHANNELS["count"], [1, 2.5, True, 2**64 - 1], [None, "WRONG_TYPE", "WRONG_TYPE", "NOT_ALLOWED"]),
        (CHANNELS["count"], np.array([1.0, 2.0]), ["WRONG_TYPE", "WRONG_TYPE"]),
        (CHANNELS["on"], [True, 1, [True]], [None, "WRONG_TYPE", "WRONG_TYPE"]),
        (CHANNELS["mode"], ["idle", "dancing", 3], [None, "NOT_ALLOWED", "WRONG_TYPE"]),
        (CHANNELS["temp"], ["1.5", {"v": 1}], ["WRONG_TYPE", "WRONG_TYPE"]),
    ],
)
def test_values_no_array_can_hold_are_checked_one_by_one(
    rule: ChannelRule, values: list[object], reasons: list[str | None]
) -> None:
    checked = check_column(rule, values, everywhere(values))  # type: ignore[arg-type]
    found = [checked.refusals[p].reason.value if p in checked.refusals else None for p in range(len(values))]
    assert found == reasons
    items = values.tolist() if isinstance(values, np.ndarray) else values
    assert found == [r.reason.value if isinstance(r := rule.check(v), Refusal) else None for v in items]


def test_values_not_considered_get_no_verdict() -> None:
    checked = check_column(CHANNELS["temp"], [math.nan, 20.0], np.array([False, True]))
    assert (checked.accepted.tolist(), checked.refusals) == ([False, True], {})


def test_accepted_columns_go_out_as_rows_of_one_batch() -> None:
    result, [batch] = ingest(
        device(
            [NOW - 2, NOW - 1, NOW],
            Column("temp", np.array([20.0, 95.5, 21.0])),
            Column("on", [True, False], np.array([True, False, True])),
            Column("count", np.array([7, 8, 9])),
        )
    )
    assert batch.devices == [
        (
            MILL,
            [
                (NOW - 2, {"temp": 20.0, "on": True, "count": 7}),
                (NOW - 1, {"temp": 95.5, "count": 8}),
                (NOW, {"temp": 21.0, "on": False, "count": 9}),
            ],
        )
    ]
    assert (result.accepted, result.rejected, result.rejections) == (8, 0, [])
    assert result.flags == [Flag(0, 1, "temp", "outside [10.0, 90.0]")]


def test_verdicts_come_by_sample_then_channel_and_count_readings() -> None:
    old = NOW - RETENTION_DAYS * DAY_MS - 1
    result, [batch] = ingest(
        device(
            [NOW, old, NOW + LIMITS.future_skew_ms + 1, NOW],
            Column("temp", np.array([math.inf, 20.0, 20.0, 30.0])),
            Column("speed", [1.0, 2.0], np.array([True, True, False, False])),
            Column("mode", ["idle", "dancing", "idle", "x"]),
        )
    )
    assert verdicts(result) == [
        (0, "temp", Reason.NOT_FINITE),
        (0, "speed", Reason.UNKNOWN_CHANNEL),
        (1, "", Reason.TOO_OLD),
        (2, "", Reason.IN_THE_FUTURE),
        (3, "mode", Reason.NOT_ALLOWED),
    ]
    assert (result.accepted, result.rejected) == (2, 2 + 3 + 2 + 1)
    assert batch.devices == [(MILL, [(NOW, {"mode": "idle"}), (NOW, {"temp": 30.0})])]


def test_a_column_that_does_not_fit_its_samples_is_rejected_whole() -> None:
    result, [batch] = ingest(
        device(
            [NOW - 1, NOW],
            Column("temp", np.array([20.0])),
            Column("count", np.array([1]), np.array([True, True])),
            Column("mode", ["idle"], np.array([True, False, False])),
            Column("on", [True, True]),
        )
    )
    assert verdicts(result) == [
        (-1, "temp", Reason.LENGTH_MISMATCH),
        (-1, "count", Reason.LENGTH_MISMATCH),
        (-1, "mode", Reason.LENGTH_MISMATCH),
    ]
    assert (result.accepted, result.rejected) == (2, 3)
    assert batch.devices == [(MILL, [(NOW - 1, {"on": True}), (NOW, {"on": True})])]


def test_a_channel_given_twice_is_taken_from_neither_column() -> None:
    result, [batch] = ingest(
        device([NOW], Column("temp", [20.0]), Column("on", [True]), Column("temp", [21.0, 22.0]))
    )
    assert verdicts(result) == [(-1, "temp", Reason.DUPLICATE_CHANNEL)] * 2
    assert (result.accepted, result.rejected) == (1, 3)
    assert batch.devices == [(MILL, [(NOW, {"on": True})])]


def test_another_tenants_device_is_unknown_and_empty_arrays_are_nothing() -> None:
    result, sent = ingest(
        device([NOW], Column("temp", [20.0]), device_id=FOREIGN),
        device([], Column("temp", [])),
        device([NOW, NOW]),
    )
    assert result.rejections == [Rejection(0, -1, "", Reason.UNKNOWN_DEVICE, "no such device")]
    assert (result.accepted, result.rejected, sent) == (0, 1, [])


def test_a_request_beyond_the_columnar_limit_is_refused_whole() -> None:
    assert ingest(device([NOW] * 6, Column("temp", [20.0] * 6), Column("count", [1] * 6)))[0].accepted == 12
    with pytest.raises(TooManyReadings) as raised:
        ingest(device([NOW] * 13, Column("temp", [20.0] * 13)))
    assert raised.value.message == "13 readings; at most 12 in one request"


def test_protobuf_arrays_and_bitmaps_are_read_as_numpy_arrays() -> None:
    request = columnar_request(
        TENANT,
        (
            MILL,
            [NOW - 9 + i for i in range(10)],
            [
                column("temp", [20.5] * 9),
                column("count", [1, 2], [i in (0, 9) for i in range(10)]),
                column("mode", ["idle"]),
                column("empty", []),
            ],
        ),
    )
    [read] = columns_of(request)
    temp, count, mode, empty = read.columns
    assert read.ts_ms.dtype == np.int64 and temp.values.dtype == np.float64  # type: ignore[union-attr]
    assert count.present is not None and np.flatnonzero(count.present).tolist() == [0, 9]
    assert count.values.tolist() == [1, 2]  # type: ignore[union-attr]
    assert (mode.values, len(empty.values)) == (["idle"], 0)
    result, _ = ingest(read)
    mismatched = [(-1, channel, Reason.LENGTH_MISMATCH) for channel in ("temp", "mode", "empty")]
    assert (verdicts(result), result.accepted) == (mismatched, 2)


def test_a_bitmap_of_the_wrong_size_does_not_fit() -> None:
    request = columnar_request(TENANT, (MILL, [NOW, NOW], [column("on", [True], [True, False] * 5)]))
    [read] = columns_of(request)
    assert read.columns[0].sample_indexes(2) is None


def test_only_the_samples_that_kept_a_value_travel() -> None:
    sent: list[AcceptedBatch] = []
    use_case = Ingest(DEVICES.get, lambda tenant: RETENTION_DAYS, sent.extend, LIMITS, lambda: NOW)
    too_old = NOW - RETENTION_DAYS * DAY_MS - 1
    use_case.ingest_columns(
        TENANT,
        [
            device(
                [NOW - 2, too_old, NOW - 1, NOW],
                Column("temp", np.array([20.0, 21.0, math.nan, 22.0])),
                Column("on", [True, False], np.array([False, True, True, False])),
            )
        ],
    )
    [kept] = sent[0].columns
    assert kept.ts_ms.tolist() == [NOW - 2, NOW - 1, NOW]
    assert [(c.channel, c.samples.tolist()) for c in kept.columns] == [("temp", [0, 2]), ("on", [1])]
