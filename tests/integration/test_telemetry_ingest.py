"""Ingest through gRPC onto the real broker (one request, or many of several tenants in one
call), and the bulk writer into the real database."""

from __future__ import annotations

import math
import signal
import time
import uuid
from collections.abc import Iterator
from unittest.mock import ANY

import grpc
import orjson
import pika
import pytest
from gantry.v1 import telemetry_pb2 as pb
from google.rpc import error_details_pb2

from services.kit.batches import AcceptedBatch
from services.kit.bus import ConfirmingPublisher, Topology
from services.kit.consumers import ConsumerQueue
from services.kit.store import Store
from services.telemetry.api.ingest import MAX_JSON_REQUESTS
from services.telemetry.bus import READINGS
from services.telemetry.settings import IngestLimits
from tests.integration.conftest import CapturedEvents
from tests.support.access import code_of, violations
from tests.support.backends import AMQP_URL, postgres_database
from tests.support.telemetry import (
    Stub,
    delete_readings_queue,
    ingest_request,
    queued,
    readings_store,
    running_writer,
    sample,
    start_writer,
    stored_count,
    stored_readings,
    teach_device,
    telemetry_server,
)
from tests.support.waiting import eventually

TENANT = str(uuid.uuid4())
OTHER_TENANT = str(uuid.uuid4())
NOW_MS = int(time.time() * 1000)


@pytest.fixture
def store(database_url: str, publisher: ConfirmingPublisher, topology: Topology) -> Iterator[Store]:
    with readings_store(database_url, publisher, topology) as telemetry:
        yield telemetry


@pytest.fixture
def telemetry(store: Store, publisher: ConfirmingPublisher) -> Iterator[Stub]:
    with telemetry_server(store, publisher, IngestLimits(max_readings=1000)) as stub:
        yield stub


def second_samples(start_ms: int, count: int) -> list[pb.Sample]:
    return [
        sample(start_ms + 1000 * i, spindle_temp=20.0 + i, spindle_rpm=1000 + i, mode="cutting")
        for i in range(count)
    ]


def test_accepted_readings_are_stored_once_and_announced(
    store: Store, telemetry: Stub, topology: Topology, captured: CapturedEvents
) -> None:
    device = teach_device(store, TENANT)
    response = telemetry.Ingest(ingest_request(TENANT, (device, second_samples(NOW_MS - 60_000, 10))))
    assert (response.accepted, response.rejected) == (30, 0)
    with running_writer(store, topology):
        eventually(lambda: stored_count(store, device) == 30, what="30 readings stored")
        events = eventually(lambda: captured.drain(), what="batch_stored published")
    body = orjson.loads(events[0][1])
    assert body["type"] == "telemetry.batch_stored"
    assert body["data"]["devices"] == [
        {
            "device_id": device,
            "count": 30,
            "first_ts": body["data"]["devices"][0]["first_ts"],
            "last_ts": body["data"]["devices"][0]["last_ts"],
        }
    ]
    rows = [reading._asdict() for reading in stored_readings(store) if reading.channel == "spindle_rpm"]
    assert [r["int_value"] for r in rows] == list(range(1000, 1010))
    assert all(r["float_value"] is None and r["retention_days"] == 365 for r in rows)


def test_every_bad_reading_is_rejected_with_its_index_and_reason(store: Store, telemetry: Stub) -> None:
    good = teach_device(store, TENANT)
    suspended = teach_device(store, TENANT, state="suspended")
    foreign = teach_device(store, str(uuid.uuid4()))
    old_ms = NOW_MS - 400 * 86_400_000
    request = ingest_request(
        TENANT,
        (
            good,
            [
                sample(
                    NOW_MS,
                    spindle_temp=float("nan"),
                    spindle_rpm=1.5,
                    door_open=True,
                    program="x" * 1025,
                    mode="dancing",
                    coolant=1.0,
                ),
                sample(NOW_MS + 3_600_000, spindle_temp=20.0),
                sample(old_ms, spindle_temp=20.0),
                sample(NOW_MS - 1000, spindle_temp=151.0, program="bad\x00nul"),
                pb.Sample(ts_ms=NOW_MS - 2000, values={"spindle_temp": pb.Value()}),
            ],
        ),
        (suspended, [sample(NOW_MS, spindle_temp=1.0)]),
        (foreign, [sample(NOW_MS, spindle_temp=1.0)]),
        ("not-a-uuid", [sample(NOW_MS, spindle_temp=1.0)]),
        (str(uuid.uuid4()), [sample(NOW_MS, spindle_temp=1.0)]),
    )
    response = telemetry.Ingest(request)
    verdicts = {
        (r.device_index, r.sample_index, r.channel): pb.RejectionReason.Name(r.reason)
        for r in response.rejections
    }
    assert verdicts == {
        (0, 0, "spindle_temp"): "NOT_FINITE",
        (0, 0, "spindle_rpm"): "WRONG_TYPE",
        (0, 0, "program"): "TOO_LONG",
        (0, 0, "mode"): "NOT_ALLOWED",
        (0, 0, "coolant"): "UNKNOWN_CHANNEL",
        (0, 1, ""): "IN_THE_FUTURE",
        (0, 2, ""): "TOO_OLD",
        (0, 3, "program"): "NOT_ALLOWED",
        (0, 4, "spindle_temp"): "WRONG_TYPE",
        (1, -1, ""): "DEVICE_NOT_ACCEPTING",
        (2, -1, ""): "UNKNOWN_DEVICE",
        (3, -1, ""): "UNKNOWN_DEVICE",
        (4, -1, ""): "UNKNOWN_DEVICE",
    }
    assert all(r.detail for r in response.rejections)
    # door_open at 0 and spindle_temp at 3 are accepted; 151 °C is flagged, not refused.
    assert (response.accepted, response.rejected) == (2, 13)
    assert [(f.device_index, f.sample_index, f.channel) for f in response.out_of_range] == [
        (0, 3, "spindle_temp")
    ]


def test_a_request_beyond_the_limits_is_refused_whole(
    store: Store, telemetry: Stub, topology: Topology
) -> None:
    device = teach_device(store, TENANT)
    too_many = ingest_request(TENANT, (device, second_samples(NOW_MS - 500_000, 334)))
    assert code_of(lambda: telemetry.Ingest(too_many)) == grpc.StatusCode.INVALID_ARGUMENT
    assert "devices" in violations(lambda: telemetry.Ingest(too_many))
    assert code_of(lambda: telemetry.Ingest(ingest_request("acme", (device, [])))) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    assert queued(topology) == 0


def test_duplicates_and_out_of_order_batches_are_stored_once(
    store: Store, telemetry: Stub, topology: Topology
) -> None:
    device = teach_device(store, TENANT)
    later = second_samples(NOW_MS - 10_000, 5)
    earlier = second_samples(NOW_MS - 60_000, 5)
    for samples in (later, earlier, later, later[2:] + earlier[:1]):
        telemetry.Ingest(ingest_request(TENANT, (device, samples)))
    with running_writer(store, topology):
        eventually(lambda: queued(topology) == 0 and stored_count(store, device) == 30, what="all stored")
    # Delivered again after everything was stored: still once.
    telemetry.Ingest(ingest_request(TENANT, (device, earlier)))
    with running_writer(store, topology):
        eventually(lambda: queued(topology) == 0, what="queue drained")
    assert stored_count(store, device) == 30


def test_readings_wait_on_the_bus_while_the_writer_is_down(
    store: Store, telemetry: Stub, topology: Topology
) -> None:
    device = teach_device(store, TENANT)
    for minute in range(5):
        response = telemetry.Ingest(
            ingest_request(TENANT, (device, second_samples(NOW_MS - 3_600_000 + minute * 60_000, 60)))
        )
        assert response.accepted == 180
    assert queued(topology) == 5 and stored_count(store) == 0
    with running_writer(store, topology):
        eventually(lambda: stored_count(store, device) == 900, what="the writer to catch up")


def test_a_stream_is_answered_batch_by_batch(store: Store, telemetry: Stub) -> None:
    device = teach_device(store, TENANT)
    batches = [
        ingest_request(TENANT, (device, second_samples(NOW_MS - 30_000, 3))),
        ingest_request(TENANT, (device, [sample(NOW_MS, spindle_temp=math.inf)])),
        ingest_request(TENANT, (str(uuid.uuid4()), [sample(NOW_MS, spindle_temp=1.0)])),
    ]
    responses = list(telemetry.IngestStream(iter(batches)))
    assert [(r.accepted, r.rejected) for r in responses] == [(9, 0), (0, 1), (0, 1)]


def test_nothing_is_acknowledged_when_no_queue_takes_the_readings(
    store: Store, telemetry: Stub, topology: Topology
) -> None:
    device = teach_device(store, TENANT)
    delete_readings_queue(topology)
    request = ingest_request(TENANT, (device, second_samples(NOW_MS - 10_000, 2)))
    assert code_of(lambda: telemetry.Ingest(request)) == grpc.StatusCode.UNAVAILABLE


def test_every_queue_the_readings_exchange_feeds_gets_each_accepted_batch_once(
    store: Store, telemetry: Stub, topology: Topology
) -> None:
    # Another consumer of the readings (analytics), beside the writer's queue.
    listener = ConsumerQueue("test-readings-listener", fed_by=READINGS.fed_by)
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    topology.declare_consumer_queue(channel, listener)
    try:
        device = teach_device(store, TENANT)
        for minute in range(3):
            request = ingest_request(TENANT, (device, second_samples(NOW_MS - 600_000 + minute * 60_000, 10)))
            assert telemetry.Ingest(request).accepted == 30

        taken = [channel.basic_get(topology.queue(listener.name), auto_ack=True) for _ in range(4)]
        batches = [AcceptedBatch.decode(body) for method, _, body in taken if method is not None]
        assert [batch.reading_count() for batch in batches] == [30, 30, 30]
        assert queued(topology) == 3
    finally:
        channel.queue_delete(topology.queue(listener.name))
        connection.close()


@pytest.fixture
def postgres_store(publisher: ConfirmingPublisher, topology: Topology) -> Iterator[tuple[Store, str]]:
    with postgres_database() as url, readings_store(url, publisher, topology) as telemetry:
        yield telemetry, url


def test_acknowledged_readings_survive_a_killed_writer_exactly_once(
    postgres_store: tuple[Store, str], publisher: ConfirmingPublisher, topology: Topology
) -> None:
    store, url = postgres_store
    devices = [teach_device(store, TENANT) for _ in range(3)]
    writer = start_writer(url, topology)
    acknowledged = 0
    try:
        with telemetry_server(store, publisher) as telemetry:
            for batch in range(60):
                start_ms = NOW_MS - 3_600_000 + batch * 10_000
                request = ingest_request(TENANT, *((d, second_samples(start_ms, 10)) for d in devices))
                acknowledged += telemetry.Ingest(request).accepted
                if batch == 20:
                    eventually(lambda: stored_count(store) > 0, what="the writer to store something")
                    writer.send_signal(signal.SIGKILL)
                    writer.wait(10)
                if batch == 40:
                    writer = start_writer(url, topology)
        eventually(lambda: stored_count(store) == acknowledged, 60, f"{acknowledged} readings stored")
        eventually(lambda: queued(topology) == 0, what="every message acknowledged")
        assert stored_count(store) == acknowledged == 60 * 3 * 30
    finally:
        writer.kill()
        writer.wait(10)


def test_json_bodies_are_ingested_as_protobuf_batches_are(store: Store, telemetry: Stub) -> None:
    device = teach_device(store, TENANT)
    batch = orjson.dumps(
        {
            "devices": [
                {
                    "device_id": device,
                    "samples": [
                        {"ts": NOW_MS - 2000, "values": {"spindle_temp": 21, "mode": "idle"}},
                        {"ts": (NOW_MS - 1000) / 1000, "values": {"spindle_rpm": 1.5}},
                    ],
                }
            ]
        }
    )
    response = telemetry.Ingest(ingest_request(TENANT))  # an empty batch is fine
    assert (response.accepted, response.rejected) == (0, 0)
    response = telemetry.IngestJson(
        pb.IngestJsonRequest(tenant_id=TENANT, format=pb.JSON_FORMAT_BATCH, body=batch)
    )
    assert (response.accepted, response.rejected) == (2, 1)
    assert pb.RejectionReason.Name(response.rejections[0].reason) == "WRONG_TYPE"
    thingsboard = pb.IngestJsonRequest(
        tenant_id=TENANT, format=pb.JSON_FORMAT_THINGSBOARD, device_id=device, body=b'[{"door_open": false}]'
    )
    assert telemetry.IngestJson(thingsboard).accepted == 1
    malformed = pb.IngestJsonRequest(tenant_id=TENANT, format=pb.JSON_FORMAT_BATCH, body=b'{"devices": [1]}')
    assert violations(lambda: telemetry.IngestJson(malformed)) == {"devices[0]": ANY}
    unformatted = pb.IngestJsonRequest(tenant_id=TENANT, body=batch)
    assert "format" in violations(lambda: telemetry.IngestJson(unformatted))


def test_a_request_over_the_size_limit_is_refused_by_the_server(telemetry: Stub) -> None:
    body = b" " * (17 * 1024 * 1024)
    request = pb.IngestJsonRequest(tenant_id=TENANT, format=pb.JSON_FORMAT_BATCH, body=body)
    assert code_of(lambda: telemetry.IngestJson(request)) == grpc.StatusCode.RESOURCE_EXHAUSTED


def thingsboard(tenant_id: str, device_id: str, body: object) -> pb.IngestJsonRequest:
    return pb.IngestJsonRequest(
        tenant_id=tenant_id, format=pb.JSON_FORMAT_THINGSBOARD, device_id=device_id, body=orjson.dumps(body)
    )


def queued_batches(topology: Topology) -> list[AcceptedBatch]:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    batches = []
    while (taken := channel.basic_get(topology.queue(READINGS.name), auto_ack=True))[0] is not None:
        batches.append(AcceptedBatch.decode(taken[2]))
    connection.close()
    return batches


def test_each_request_is_answered_as_its_own_call_and_each_tenant_gets_one_batch(
    store: Store, telemetry: Stub, topology: Topology
) -> None:
    first, second = teach_device(store, TENANT), teach_device(store, OTHER_TENANT)
    requests = [
        thingsboard(TENANT, first, {"ts": NOW_MS - 2000, "values": {"spindle_temp": 20.5, "mode": "idle"}}),
        thingsboard(OTHER_TENANT, second, {"spindle_rpm": 1200, "spindle_temp": "hot"}),
        thingsboard(TENANT, first, [1, 2]),
        # Another tenant's device is unknown to this one, as a device that does not exist.
        thingsboard(TENANT, second, {"spindle_temp": 21.0}),
        thingsboard(TENANT, first, {"ts": NOW_MS - 1000, "values": {"spindle_temp": 21.5}}),
    ]
    outcomes = telemetry.IngestJsonMany(pb.IngestJsonManyRequest(requests=requests)).outcomes

    kinds = [outcome.WhichOneof("outcome") for outcome in outcomes]
    assert kinds == ["response", "response", "error", "response", "response"]
    verdicts = [(o.response.accepted, o.response.rejected) for o in outcomes if o.HasField("response")]
    assert verdicts == [(2, 0), (1, 1), (0, 1), (1, 0)]
    assert pb.RejectionReason.Name(outcomes[1].response.rejections[0].reason) == "WRONG_TYPE"
    assert pb.RejectionReason.Name(outcomes[3].response.rejections[0].reason) == "UNKNOWN_DEVICE"
    error = outcomes[2].error
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    bad_request = error_details_pb2.BadRequest()
    assert error.details[0].Unpack(bad_request) and bad_request.field_violations

    batches = sorted(queued_batches(topology), key=lambda batch: batch.tenant_id != TENANT)
    assert [(b.tenant_id, b.reading_count()) for b in batches] == [(TENANT, 3), (OTHER_TENANT, 1)]
    assert [device for device, _ in batches[0].devices] == [first, first]


def test_nothing_of_many_requests_is_accepted_when_no_queue_takes_the_readings(
    store: Store, telemetry: Stub, topology: Topology
) -> None:
    device = teach_device(store, TENANT)
    delete_readings_queue(topology)
    request = pb.IngestJsonManyRequest(requests=[thingsboard(TENANT, device, {"spindle_temp": 20.0})])
    assert code_of(lambda: telemetry.IngestJsonMany(request)) == grpc.StatusCode.UNAVAILABLE


def test_too_many_requests_in_one_call_are_refused_whole(
    store: Store, telemetry: Stub, topology: Topology
) -> None:
    device = teach_device(store, TENANT)
    one = thingsboard(TENANT, device, {"spindle_temp": 20.0})
    request = pb.IngestJsonManyRequest(requests=[one] * (MAX_JSON_REQUESTS + 1))
    assert code_of(lambda: telemetry.IngestJsonMany(request)) == grpc.StatusCode.INVALID_ARGUMENT
    assert queued_batches(topology) == []
