"""Columnar ingest through gRPC onto the real broker, stored by the bulk writer into the
real database: the same readings as rows, the same verdicts and stored readings."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator

import grpc
import orjson
import pytest
from gantry.v1 import telemetry_pb2 as pb
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from services.kit.bus import ConfirmingPublisher, Topology
from services.kit.store import Store
from services.telemetry.settings import IngestLimits
from tests.support.access import code_of, rpc_error, violations
from tests.support.telemetry import (
    Stub,
    column,
    columnar_request,
    delete_readings_queue,
    ingest_request,
    queued,
    readings_store,
    running_writer,
    sample,
    stored_count,
    stored_readings,
    teach_device,
    telemetry_server,
)
from tests.support.waiting import eventually

TENANT = str(uuid.uuid4())
NOW_MS = int(time.time() * 1000)
LIMIT = 2_000


@pytest.fixture
def store(database_url: str, publisher: ConfirmingPublisher, topology: Topology) -> Iterator[Store]:
    with readings_store(database_url, publisher, topology) as telemetry:
        yield telemetry


@pytest.fixture
def telemetry(store: Store, publisher: ConfirmingPublisher) -> Iterator[Stub]:
    with telemetry_server(store, publisher, IngestLimits(max_columnar_readings=LIMIT)) as stub:
        yield stub


def stored(store: Store, device: str) -> list[tuple]:
    """Every column of the device's stored readings but its id."""
    return [tuple(reading)[1:] for reading in stored_readings(store, [device])]


def verdicts(response: pb.IngestResponse) -> list[tuple]:
    return [
        (r.sample_index, r.channel, pb.RejectionReason.Name(r.reason), r.detail) for r in response.rejections
    ]


STAMPS = [NOW_MS - 3000, NOW_MS - 2000, NOW_MS - 1000, NOW_MS + 3_600_000, NOW_MS - 400 * 86_400_000]
COLUMNS = {
    "spindle_temp": [20.5, math.nan, 151.0, 20.0, 20.0],
    "spindle_rpm": [1000, 1001, None, 1003, 1004],
    "door_open": [True, None, None, False, True],
    "mode": ["cutting", "dancing", "idle", "idle", "idle"],
    "program": ["x" * 1025, "ok", "bad\x00nul", "p", "p"],
    "coolant": [1.0, None, None, None, None],
}


def as_rows(device: str) -> pb.IngestRequest:
    samples = [
        sample(ts, **{channel: values[i] for channel, values in COLUMNS.items() if values[i] is not None})
        for i, ts in enumerate(STAMPS)
    ]
    return ingest_request(TENANT, (device, samples))


def as_columns(device: str) -> pb.IngestColumnarRequest:
    columns = [
        column(channel, [v for v in values if v is not None], [v is not None for v in values])
        for channel, values in COLUMNS.items()
    ]
    return columnar_request(TENANT, (device, STAMPS, columns))


def test_the_same_readings_in_columns_get_the_verdicts_and_storage_of_rows(
    store: Store, telemetry: Stub, topology: Topology
) -> None:
    in_rows, in_columns = teach_device(store, TENANT), teach_device(store, TENANT)
    rows = telemetry.Ingest(as_rows(in_rows))
    columns = telemetry.IngestColumnar(as_columns(in_columns))
    # A protobuf map has no order of its own: rows' verdicts within a sample may come in any.
    assert sorted(verdicts(columns)) == sorted(verdicts(rows))
    assert {(r.sample_index, r.channel) for r in columns.rejections} >= {
        (1, "spindle_temp"),
        (3, ""),
        (4, ""),
    }
    assert (columns.accepted, columns.rejected) == (rows.accepted, rows.rejected) == (8, 15)
    assert list(columns.out_of_range) == list(rows.out_of_range)
    with running_writer(store, topology):
        eventually(lambda: stored_count(store) == 16, what="both devices' readings stored")
    assert stored(store, in_columns) == stored(store, in_rows)


def test_columns_in_json_are_ingested_as_protobuf_columns(store: Store, telemetry: Stub) -> None:
    device = teach_device(store, TENANT)
    body = orjson.dumps(
        {
            "devices": [
                {
                    "device_id": device,
                    "ts": [NOW_MS - 2000, (NOW_MS - 1000) / 1000],
                    "values": {"spindle_temp": [21, None], "spindle_rpm": [1.5, 7], "mode": ["idle"]},
                }
            ]
        }
    )
    response = telemetry.IngestJson(
        pb.IngestJsonRequest(tenant_id=TENANT, format=pb.JSON_FORMAT_BATCH, body=body)
    )
    assert (response.accepted, response.rejected) == (2, 2)
    assert [(r.sample_index, r.channel, pb.RejectionReason.Name(r.reason)) for r in response.rejections] == [
        (-1, "mode", "LENGTH_MISMATCH"),
        (0, "spindle_rpm", "WRONG_TYPE"),
    ]
    mixed = b'{"devices": [{"device_id": "d", "ts": [], "values": {}}, {"device_id": "d", "samples": []}]}'
    request = pb.IngestJsonRequest(tenant_id=TENANT, format=pb.JSON_FORMAT_BATCH, body=mixed)
    assert set(violations(lambda: telemetry.IngestJson(request))) == {"devices[1].ts"}


def test_hostile_columns_get_verdicts_and_never_leak_another_tenants_device(
    store: Store, telemetry: Stub
) -> None:
    device, foreign = teach_device(store, TENANT), teach_device(store, str(uuid.uuid4()))
    request = columnar_request(
        TENANT,
        (
            device,
            [NOW_MS - 1000, NOW_MS, -1, 2**63 - 1],
            [
                column("spindle_temp", [math.inf, -math.inf, 20.0, 20.0]),
                column("spindle_rpm", [1, 2, 3]),
                column("door_open", [True], [False, True] + [False] * 14),
                column("mode", ["idle"] * 4),
                column("mode", ["alarm"] * 4),
            ],
        ),
        (foreign, [NOW_MS], [column("spindle_temp", [20.0])]),
        (device, [], [column("spindle_temp", [])]),
    )
    response = telemetry.IngestColumnar(request)
    assert [
        (r.device_index, r.sample_index, r.channel, pb.RejectionReason.Name(r.reason))
        for r in response.rejections
    ] == [
        (0, -1, "spindle_rpm", "LENGTH_MISMATCH"),
        (0, -1, "door_open", "LENGTH_MISMATCH"),
        (0, -1, "mode", "DUPLICATE_CHANNEL"),
        (0, -1, "mode", "DUPLICATE_CHANNEL"),
        (0, 0, "spindle_temp", "NOT_FINITE"),
        (0, 1, "spindle_temp", "NOT_FINITE"),
        (0, 2, "", "TOO_OLD"),
        (0, 3, "", "IN_THE_FUTURE"),
        (1, -1, "", "UNKNOWN_DEVICE"),
    ]
    assert response.rejections[-1].detail == "no such device"
    assert (response.accepted, response.rejected) == (0, 3 + 1 + 8 + 2 + 2 + 1)


def test_arrays_up_to_the_limit_are_taken_and_beyond_it_refused_whole(
    store: Store, telemetry: Stub, topology: Topology
) -> None:
    device = teach_device(store, TENANT)
    stamps = [NOW_MS - 1_000_000 + i for i in range(LIMIT // 2)]
    full = [column("spindle_temp", [20.0] * len(stamps)), column("spindle_rpm", list(range(len(stamps))))]
    assert telemetry.IngestColumnar(columnar_request(TENANT, (device, stamps, full))).accepted == LIMIT
    over = columnar_request(TENANT, (device, [*stamps, NOW_MS], [column("door_open", [True] * (LIMIT + 1))]))
    error = rpc_error(lambda: telemetry.IngestColumnar(over))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.details() == f"{LIMIT + 1} readings; at most {LIMIT} in one request"
    info = error_details_pb2.ErrorInfo()
    assert any(detail.Unpack(info) for detail in rpc_status.from_call(error).details)
    assert info.reason == "TOO_MANY_READINGS"
    huge = columnar_request(TENANT, (device, [NOW_MS] * 3_000_000, []))
    assert code_of(lambda: telemetry.IngestColumnar(huge)) == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert (
        code_of(lambda: telemetry.IngestColumnar(columnar_request("acme")))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    assert queued(topology) == 1


def test_nothing_is_acknowledged_in_columns_when_no_queue_takes_the_readings(
    store: Store, telemetry: Stub, topology: Topology
) -> None:
    device = teach_device(store, TENANT)
    delete_readings_queue(topology)
    request = columnar_request(TENANT, (device, [NOW_MS], [column("spindle_temp", [20.0])]))
    assert code_of(lambda: telemetry.IngestColumnar(request)) == grpc.StatusCode.UNAVAILABLE
