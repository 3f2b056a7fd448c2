"""Telemetry's queries through gRPC on both backends: pages, series, latest values and CSV
of readings written straight to the database, each scoped to the caller's tenant; on
PostgreSQL the same again with every day compacted before each call."""

from __future__ import annotations

import base64
import csv
import io
import math
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import orjson
import pytest
from gantry.v1 import common_pb2
from gantry.v1 import telemetry_pb2 as pb
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from services.kit.bus import ConfirmingPublisher
from services.kit.protos import timestamp
from services.kit.store import Store
from services.telemetry.csv_export import CSV_CHUNK_CHARS
from services.telemetry.domain import KnownDevice
from services.telemetry.queries.directory import add_known_device
from tests.support.access import rpc_error, violations
from tests.support.telemetry import (
    Compacting,
    Stub,
    store_readings,
    teach_device,
    telemetry_server,
    telemetry_store,
)

TENANT = str(uuid.uuid4())
RETENTION_DAYS = 365
MIDNIGHT = datetime(2026, 3, 2, tzinfo=UTC)
# Twenty minutes of readings across midnight, so that they span two day partitions.
FIRST = MIDNIGHT - timedelta(minutes=10)
START, END = MIDNIGHT - timedelta(minutes=7, seconds=30), MIDNIGHT + timedelta(minutes=6, seconds=18)
MODES = ("idle", "cutting", "alarm")
PROGRAMS = ('O1000, "roughing"\r\nM30', "Ωmega", "")
ALL_AGGREGATES = [pb.MIN, pb.MAX, pb.AVG, pb.COUNT, pb.FIRST, pb.LAST]

Scalar = float | int | bool | str
Reading = tuple[str, datetime, Scalar]


@pytest.fixture
def store(database_url: str, publisher: ConfirmingPublisher) -> Iterator[Store]:
    with telemetry_store(database_url, publisher) as telemetry:
        yield telemetry


@pytest.fixture(params=["hot", "compacted"])
def telemetry(request: pytest.FixtureRequest, store: Store, publisher: ConfirmingPublisher) -> Iterator[Stub]:
    """The service answering from readings as written, or from their days compacted."""
    if request.param == "compacted" and store.engine.dialect.name != "postgresql":
        pytest.skip("days are compacted on PostgreSQL only")
    with telemetry_server(store, publisher) as stub:
        yield stub if request.param == "hot" else Compacting(stub, store)


@pytest.fixture
def device(store: Store) -> str:
    return teach_device(store, TENANT)


@pytest.fixture
def recorded(store: Store, device: str) -> list[Reading]:
    """Every channel at a pace of its own, some at the same instants (ties broken by
    channel), the integers a quarter of a second off."""

    def every(
        seconds: int, channel: str, value: Callable[[int], Scalar], offset_ms: int = 0
    ) -> list[Reading]:
        return [
            (channel, FIRST + timedelta(seconds=i, milliseconds=offset_ms), value(i))
            for i in range(0, 1200, seconds)
        ]

    readings = [
        *every(7, "spindle_temp", lambda i: 20 + (i * 37 % 101) / 4),
        *every(11, "spindle_rpm", lambda i: 1000 + i * 3 % 50, offset_ms=250),
        *every(13, "door_open", lambda i: i % 3 == 0),
        *every(17, "mode", lambda i: MODES[i % 3]),
        *every(77, "program", lambda i: PROGRAMS[i % 3]),
    ]
    insert_readings(store, device, readings)
    return readings


def insert_readings(store: Store, device_id: str, readings: list[Reading]) -> None:
    store_readings(store, device_id, readings, RETENTION_DAYS)


def in_order(readings: list[Reading], channels: set[str], start: datetime, end: datetime) -> list[Reading]:
    found = [r for r in readings if r[0] in channels and start <= r[1] < end]
    return sorted(found, key=lambda r: (r[1], r[0]))


def scalar(value: pb.Value) -> Scalar:
    return getattr(value, value.WhichOneof("kind"))


def reading_of(message: pb.Reading) -> Reading:
    return message.channel, message.ts.ToDatetime(tzinfo=UTC), scalar(message.value)


def period(start: datetime = START, end: datetime = END) -> dict[str, Timestamp]:
    return {"start": timestamp(start), "end": timestamp(end)}


def all_pages(telemetry: Stub, device: str, size: int, **fields: Any) -> list[list[Reading]]:
    pages, cursor = [], ""
    while True:
        response = telemetry.QueryRange(
            pb.QueryRangeRequest(
                tenant_id=TENANT,
                device_id=device,
                page=common_pb2.PageRequest(page_size=size, cursor=cursor),
                **{**period(), **fields},
            )
        )
        pages.append([reading_of(r) for r in response.readings])
        cursor = response.page.next_cursor
        if not cursor:
            return pages


def test_pages_hold_every_reading_of_the_range_once_by_time_then_channel(
    telemetry: Stub, device: str, recorded: list[Reading]
) -> None:
    pages = all_pages(telemetry, device, 7)
    expected = in_order(recorded, {r[0] for r in recorded}, START, END)
    assert [r for page in pages for r in page] == expected
    assert [len(page) for page in pages[:-1]] == [7] * (len(pages) - 1)
    assert 1 <= len(pages[-1]) <= 7


def test_a_range_reads_only_the_channels_named_however_often(
    telemetry: Stub, device: str, recorded: list[Reading]
) -> None:
    pages = all_pages(telemetry, device, 1000, channels=["mode"] * 10_000 + ["spindle_rpm"])
    assert pages == [in_order(recorded, {"mode", "spindle_rpm"}, START, END)]


def test_the_range_starts_at_its_start_and_stops_before_its_end(
    telemetry: Stub, device: str, recorded: list[Reading]
) -> None:
    first, last = FIRST + timedelta(seconds=7), FIRST + timedelta(seconds=21)
    [page] = all_pages(telemetry, device, 100, channels=["spindle_temp"], **period(first, last))
    assert [ts for _, ts, _ in page] == [first, FIRST + timedelta(seconds=14)]


def forged(cursor: str, position: Any) -> str:
    """A cursor of the same list, whose position is not one this server wrote."""
    payload = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return base64.urlsafe_b64encode(orjson.dumps({**payload, "p": position})).decode().rstrip("=")


def test_a_cursor_continues_only_the_list_it_came_from(
    telemetry: Stub, device: str, recorded: list[Reading]
) -> None:
    def page(cursor: str, channels: list[str]) -> pb.QueryRangeResponse:
        request = pb.QueryRangeRequest(
            tenant_id=TENANT,
            device_id=device,
            channels=channels,
            page=common_pb2.PageRequest(page_size=5, cursor=cursor),
            **period(),
        )
        return telemetry.QueryRange(request)

    cursor = page("", ["mode"]).page.next_cursor
    refused = [
        (cursor, ["spindle_temp"]),
        ("not a cursor", ["mode"]),
        (forged(cursor, ["yesterday", "mode"]), ["mode"]),
        (forged(cursor, ["2026-03-01T00:00:00", "mode"]), ["mode"]),
        (forged(cursor, ["2026-03-01T00:00:00+00:00", 7]), ["mode"]),
        (forged(cursor, [1]), ["mode"]),
    ]
    for bad_cursor, channels in refused:
        assert violations(lambda c=bad_cursor, ch=channels: page(c, ch)) == {
            "page.cursor": "not a cursor of this list"
        }


def expected_buckets(
    readings: list[Reading], channel: str, width: int
) -> list[tuple[datetime, list[Scalar]]]:
    """The values of each bucket of `width` seconds from the epoch, in time order."""
    buckets: dict[int, list[Scalar]] = defaultdict(list)
    for _, ts, value in in_order(readings, {channel}, START, END):
        buckets[math.floor(ts.timestamp()) // width * width].append(value)
    return [(datetime.fromtimestamp(start, UTC), values) for start, values in sorted(buckets.items())]


def series(telemetry: Stub, device: str, channel: str, width: int, aggregates: list[int]) -> pb.Series:
    return telemetry.QuerySeries(
        pb.QuerySeriesRequest(
            tenant_id=TENANT,
            device_id=device,
            channel=channel,
            bucket=Duration(seconds=width),
            aggregates=aggregates,
            **period(),
        )
    )


@pytest.mark.parametrize(("channel", "width"), [("spindle_temp", 60), ("spindle_rpm", 300)])
def test_a_numeric_series_has_every_aggregate_of_each_bucket(
    telemetry: Stub, device: str, recorded: list[Reading], channel: str, width: int
) -> None:
    found = series(telemetry, device, channel, width, [])
    assert (found.device_id, found.channel, found.bucket.seconds) == (device, channel, width)
    assert list(found.aggregates) == ALL_AGGREGATES
    # START is not on a bucket's edge: its bucket starts before it, with the readings from START.
    assert found.buckets[0].start.ToDatetime(tzinfo=UTC) < START
    assert [
        (b.start.ToDatetime(tzinfo=UTC), b.count, b.min, b.max, b.avg, scalar(b.first), scalar(b.last))
        for b in found.buckets
    ] == [
        (start, len(v), min(v), max(v), pytest.approx(sum(v) / len(v)), v[0], v[-1])
        for start, v in expected_buckets(recorded, channel, width)
    ]


@pytest.mark.parametrize("channel", ["door_open", "mode"])
def test_a_series_of_another_type_counts_and_has_first_and_last(
    telemetry: Stub, device: str, recorded: list[Reading], channel: str
) -> None:
    found = series(telemetry, device, channel, 120, [])
    assert list(found.aggregates) == [pb.COUNT, pb.FIRST, pb.LAST]
    assert [
        (
            b.start.ToDatetime(tzinfo=UTC),
            b.count,
            b.HasField("min") or b.HasField("max") or b.HasField("avg"),
            scalar(b.first),
            scalar(b.last),
        )
        for b in found.buckets
    ] == [(start, len(v), False, v[0], v[-1]) for start, v in expected_buckets(recorded, channel, 120)]


def test_a_series_has_only_the_aggregates_named(
    telemetry: Stub, device: str, recorded: list[Reading]
) -> None:
    found = series(telemetry, device, "spindle_rpm", 60, [pb.LAST, pb.AVG, pb.AVG])
    assert list(found.aggregates) == [pb.AVG, pb.LAST]
    assert [
        (b.count, b.HasField("min"), b.HasField("max"), b.HasField("first"), b.avg, scalar(b.last))
        for b in found.buckets
    ] == [
        (0, False, False, False, pytest.approx(sum(v) / len(v)), v[-1])
        for _, v in expected_buckets(recorded, "spindle_rpm", 60)
    ]


def test_latest_holds_the_newest_value_of_each_channel_that_has_one(store: Store, telemetry: Stub) -> None:
    device = teach_device(store, TENANT)
    request = pb.GetLatestRequest(tenant_id=TENANT, device_id=device)
    assert list(telemetry.GetLatest(request).values) == []
    readings = [
        ("mode", MIDNIGHT - timedelta(days=1), "idle"),
        ("mode", MIDNIGHT + timedelta(seconds=5), "alarm"),
        ("mode", MIDNIGHT, "cutting"),
        ("spindle_temp", MIDNIGHT - timedelta(hours=1), 80.25),
        ("spindle_temp", MIDNIGHT - timedelta(hours=2), 60.0),
        ("door_open", MIDNIGHT - timedelta(milliseconds=1), True),
    ]
    insert_readings(store, device, readings)
    latest = telemetry.GetLatest(request)
    assert latest.device_id == device
    # In the profile's order of channels.
    assert [reading_of(r) for r in latest.values] == [
        ("spindle_temp", MIDNIGHT - timedelta(hours=1), 80.25),
        ("door_open", MIDNIGHT - timedelta(milliseconds=1), True),
        ("mode", MIDNIGHT + timedelta(seconds=5), "alarm"),
    ]


def export(telemetry: Stub, device: str, **fields: Any) -> list[bytes]:
    request = pb.ExportCsvRequest(tenant_id=TENANT, device_id=device, **{**period(), **fields})
    return [chunk.data for chunk in telemetry.ExportCsv(request)]


def test_the_csv_export_is_rfc_4180_with_utc_milliseconds(store: Store, telemetry: Stub) -> None:
    device = teach_device(store, TENANT)
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    insert_readings(
        store,
        device,
        [
            ("spindle_temp", at, 21.5),
            ("door_open", at, True),
            ("program", at, PROGRAMS[0]),
            ("spindle_rpm", at + timedelta(milliseconds=250), 12000),
            ("mode", at + timedelta(milliseconds=250), "cutting"),
            ("program", at + timedelta(seconds=1), PROGRAMS[1]),
            ("program", at + timedelta(seconds=1, milliseconds=1), PROGRAMS[2]),
            ("door_open", at + timedelta(seconds=1), False),
            ("spindle_temp", at + timedelta(seconds=2), 22.0),
        ],
    )
    assert (
        b"".join(export(telemetry, device, **period(at, at + timedelta(seconds=2))))
        == (
            "ts,channel,value\r\n"
            "2026-03-01T12:00:00.000Z,door_open,true\r\n"
            '2026-03-01T12:00:00.000Z,program,"O1000, ""roughing""\r\nM30"\r\n'
            "2026-03-01T12:00:00.000Z,spindle_temp,21.5\r\n"
            "2026-03-01T12:00:00.250Z,mode,cutting\r\n"
            "2026-03-01T12:00:00.250Z,spindle_rpm,12000\r\n"
            "2026-03-01T12:00:01.000Z,door_open,false\r\n"
            "2026-03-01T12:00:01.000Z,program,Ωmega\r\n"
            "2026-03-01T12:00:01.001Z,program,\r\n"
        ).encode()
    )
    assert export(telemetry, device, channels=["mode"], **period(at, at + timedelta(seconds=1))) == [
        b"ts,channel,value\r\n2026-03-01T12:00:00.250Z,mode,cutting\r\n"
    ]


def test_a_large_export_streams_in_chunks_that_join_into_every_row(store: Store, telemetry: Stub) -> None:
    device = teach_device(store, TENANT)
    readings = [("spindle_temp", FIRST + timedelta(seconds=i), i / 8) for i in range(3000)]
    insert_readings(store, device, readings)
    chunks = export(telemetry, device, **period(FIRST, FIRST + timedelta(hours=1)))
    assert len(chunks) > 1 and all(len(chunk) < 2 * CSV_CHUNK_CHARS for chunk in chunks)
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode(), newline="")))
    assert rows == [
        ["ts", "channel", "value"],
        *([f"{ts:%Y-%m-%dT%H:%M:%S}.000Z", channel, str(value)] for channel, ts, value in readings),
    ]


# Each call with the fields that make it a valid request of the tenant's device.
CALLS: dict[str, Callable[[Stub, dict[str, Any]], object]] = {
    "QueryRange": lambda stub, fields: stub.QueryRange(pb.QueryRangeRequest(**fields)),
    "QuerySeries": lambda stub, fields: stub.QuerySeries(pb.QuerySeriesRequest(**fields)),
    "GetLatest": lambda stub, fields: stub.GetLatest(pb.GetLatestRequest(**fields)),
    "ExportCsv": lambda stub, fields: list(stub.ExportCsv(pb.ExportCsvRequest(**fields))),
}
VALID = {
    "QueryRange": period(),
    "QuerySeries": {"channel": "spindle_temp", "bucket": Duration(seconds=60), **period()},
    "GetLatest": {},
    "ExportCsv": period(),
}


def call(telemetry: Stub, method: str, device: str, **fields: Any) -> object:
    return CALLS[method](telemetry, {"tenant_id": TENANT, "device_id": device, **VALID[method], **fields})


def test_another_tenants_device_is_not_found_on_every_call(
    store: Store, telemetry: Stub, device: str
) -> None:
    others = teach_device(store, str(uuid.uuid4()))
    insert_readings(store, others, [("spindle_temp", START, 1.0)])
    for method in CALLS:
        for device_id in (others, str(uuid.uuid4())):
            # However wrong the rest of the request is once the device is known.
            fields = {"channel": "no_such_channel"} if method == "QuerySeries" else {}
            error = rpc_error(lambda m=method, d=device_id, f=fields: call(telemetry, m, d, **f))
            assert (error.code(), error.details()) == (grpc.StatusCode.NOT_FOUND, "device not found"), method
        call(telemetry, method, device)


def test_a_device_whose_profile_is_not_known_yet_has_no_readings(store: Store, telemetry: Stub) -> None:
    device = str(uuid.uuid4())
    with store.engine.begin() as connection:
        add_known_device(
            connection, KnownDevice(device, TENANT, "SN-1", "active", MIDNIGHT, str(uuid.uuid4()), 1)
        )
    assert list(call(telemetry, "GetLatest", device).values) == []
    assert list(call(telemetry, "QueryRange", device).readings) == []
    assert call(telemetry, "ExportCsv", device) == [pb.CsvChunk(data=b"ts,channel,value\r\n")]
    assert violations(lambda: call(telemetry, "QuerySeries", device)) == {
        "channel": "no such channel in the device's profile"
    }


HOSTILE: list[tuple[str, dict[str, Any], set[str]]] = [
    ("QueryRange", {"tenant_id": "not-a-uuid"}, {"tenant_id"}),
    ("GetLatest", {"device_id": "1; DROP TABLE readings; --"}, {"device_id"}),
    ("QuerySeries", {"device_id": ""}, {"device_id"}),
    ("ExportCsv", {"device_id": "\x00" * 36}, {"device_id"}),
    ("QueryRange", period(END, START), {"end"}),
    ("QuerySeries", period(START, START), {"end"}),
    ("ExportCsv", {"start": None, "end": None}, {"start", "end"}),
    ("QueryRange", {"start": Timestamp()}, {"start"}),
    ("QuerySeries", {"end": Timestamp(seconds=2**40)}, {"end"}),
    ("QueryRange", {"start": Timestamp(seconds=1, nanos=-1)}, {"start"}),
    ("QueryRange", {"page": common_pb2.PageRequest(page_size=1_000_000)}, {"page.page_size"}),
    ("QueryRange", {"page": common_pb2.PageRequest(page_size=-1)}, {"page.page_size"}),
    ("QueryRange", {"page": common_pb2.PageRequest(cursor="'; --")}, {"page.cursor"}),
    ("QueryRange", {"channels": ["spindle_temp", "nope"]}, {"channels[1]"}),
    ("ExportCsv", {"channels": [f"channel_{i}" for i in range(10_000)]}, {"channels[0]"}),
    ("QuerySeries", {"bucket": None}, {"bucket"}),
    ("QuerySeries", {"bucket": Duration(seconds=-60)}, {"bucket"}),
    ("QuerySeries", {"bucket": Duration(seconds=1, nanos=500_000_000)}, {"bucket"}),
    ("QuerySeries", {"bucket": Duration(seconds=10**12)}, {"bucket"}),
    ("QuerySeries", {"bucket": Duration(seconds=1), **period(START, START + timedelta(days=2))}, {"bucket"}),
    ("QuerySeries", {"channel": "nope"}, {"channel"}),
    ("QuerySeries", {"channel": ""}, {"channel"}),
    ("QuerySeries", {"channel": "door_open", "aggregates": [pb.COUNT, pb.MIN]}, {"aggregates"}),
    ("QuerySeries", {"channel": "program", "aggregates": [pb.AVG]}, {"aggregates"}),
    ("QuerySeries", {"aggregates": [pb.AGGREGATE_UNSPECIFIED]}, {"aggregates"}),
    ("QuerySeries", {"aggregates": [42]}, {"aggregates"}),
]


def test_hostile_input_is_refused_with_the_fields_it_got_wrong(telemetry: Stub, device: str) -> None:
    refused = [
        (method, set(violations(lambda m=method, f=fields: call(telemetry, m, device, **f))))
        for method, fields, _ in HOSTILE
    ]
    assert refused == [(method, expected) for method, _, expected in HOSTILE]


def test_an_instant_stored_in_two_tiers_reads_in_channel_order(store: Store, telemetry: Stub) -> None:
    device = teach_device(store, TENANT)
    at = START + timedelta(seconds=1)
    store_readings(store, device, [("spindle_temp", at, 1.5), ("mode", at, "idle")], 30)
    store_readings(store, device, [("door_open", at, True), ("spindle_temp", at, 2.5)], RETENTION_DAYS)
    [page] = all_pages(telemetry, device, 100)
    assert page == [
        ("door_open", at, True),
        ("mode", at, "idle"),
        ("spindle_temp", at, 1.5),
        ("spindle_temp", at, 2.5),
    ]
