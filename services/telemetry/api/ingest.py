"""Telemetry's ingest calls: protobuf batches (in rows or columns) in, per-reading
verdicts out."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import grpc
import numpy as np
from gantry.v1 import telemetry_pb2 as pb

from services.kit.batches import AcceptedBatch
from services.kit.bus import ConfirmingPublisher, PublishError, WorkMessage
from services.kit.errors import FieldViolation, GantryError, InvalidArgument, NotDone
from services.kit.grpc_calls import status_of
from services.kit.logs import current_request_id
from services.kit.protos import scalar_of
from services.telemetry import payloads
from services.telemetry.bus import READINGS
from services.telemetry.columns import Column, DeviceColumns, Values
from services.telemetry.usecases.ingest import Checked, DeviceInput, Ingest, IngestResult, Known

# The most requests of one IngestJsonMany call.
MAX_JSON_REQUESTS = 1_000


def devices_of(request: pb.IngestRequest) -> list[DeviceInput]:
    return [
        (
            device.device_id,
            [(s.ts_ms, {key: scalar_of(v) for key, v in s.values.items()}) for s in device.samples],
        )
        for device in request.devices
    ]


def columns_of(request: pb.IngestColumnarRequest) -> list[DeviceColumns]:
    """Each device's arrays as numpy reads them, without a Python object per value."""
    devices = []
    for device in request.devices:
        samples = len(device.ts_ms)
        columns = [
            Column(column.channel, _values_of(column), _present(column.present, samples))
            for column in device.columns
        ]
        devices.append(DeviceColumns(device.device_id, np.array(device.ts_ms, dtype=np.int64), columns))
    return devices


def _values_of(column: pb.Column) -> Values:
    kind = column.WhichOneof("values")
    if kind is None:
        return np.empty(0)
    if kind == "string_values":
        return list(column.string_values.values)
    return np.array(getattr(column, kind).values, dtype=_DTYPES[kind])


_DTYPES = {"float_values": np.float64, "int_values": np.int64, "bool_values": np.bool_}


def _present(bitmap: bytes, samples: int) -> np.ndarray | None:
    """The samples the bitmap marks; a bitmap of another size marks as many as it has
    bits, which then do not fit the samples."""
    if not bitmap:
        return None
    bits = np.unpackbits(np.frombuffer(bitmap, dtype=np.uint8), bitorder="little").astype(bool)
    return bits[:samples] if len(bitmap) == -(-samples // 8) else bits


def response_of(result: IngestResult) -> pb.IngestResponse:
    return pb.IngestResponse(
        accepted=result.accepted,
        rejected=result.rejected,
        rejections=[
            pb.Rejection(
                device_index=r.device_index,
                sample_index=r.sample_index,
                channel=r.channel,
                reason=pb.RejectionReason.Value(r.reason.value),
                detail=r.detail,
            )
            for r in result.rejections
        ],
        out_of_range=[
            pb.Flag(
                device_index=f.device_index, sample_index=f.sample_index, channel=f.channel, detail=f.detail
            )
            for f in result.flags
        ],
    )


def sender(publisher: ConfirmingPublisher) -> Callable[[Sequence[AcceptedBatch]], None]:
    """Sends batches to the readings exchange, returning once the broker has them in
    every queue it feeds (the writer's, analytics')."""

    def send(batches: Sequence[AcceptedBatch]) -> None:
        request_id = current_request_id()
        messages = [WorkMessage(READINGS.fed_by, batch.id, batch.encode(), request_id) for batch in batches]
        try:
            publisher.send_all(messages)
        except PublishError as error:
            raise NotDone("the broker did not confirm the readings; none were accepted") from error

    return send


def _outcome_of(outcome: Checked | GantryError) -> pb.IngestJsonOutcome:
    if isinstance(outcome, GantryError):
        return pb.IngestJsonOutcome(error=status_of(outcome))
    return pb.IngestJsonOutcome(response=response_of(outcome.result))


class IngestApi:
    ingest: Ingest

    def Ingest(self, request: pb.IngestRequest, context: grpc.ServicerContext) -> pb.IngestResponse:
        return response_of(self.ingest.ingest(request.tenant_id, devices_of(request)))

    def IngestColumnar(
        self, request: pb.IngestColumnarRequest, context: grpc.ServicerContext
    ) -> pb.IngestResponse:
        return response_of(self.ingest.ingest_columns(request.tenant_id, columns_of(request)))

    def IngestJson(self, request: pb.IngestJsonRequest, context: grpc.ServicerContext) -> pb.IngestResponse:
        checked = self._check_json(request)
        self.ingest.accept([checked])
        return response_of(checked.result)

    def IngestJsonMany(
        self, request: pb.IngestJsonManyRequest, context: grpc.ServicerContext
    ) -> pb.IngestJsonManyResponse:
        if len(request.requests) > MAX_JSON_REQUESTS:
            violation = FieldViolation("requests", f"at most {MAX_JSON_REQUESTS} requests in one call")
            raise InvalidArgument([violation])
        outcomes: list[Checked | GantryError] = []
        # A device's rules are looked up once for the call, however many of its messages it holds.
        known: Known = {}
        for item in request.requests:
            try:
                outcomes.append(self._check_json(item, known))
            except GantryError as refused:
                outcomes.append(refused)
        self.ingest.accept([outcome for outcome in outcomes if isinstance(outcome, Checked)])
        return pb.IngestJsonManyResponse(outcomes=[_outcome_of(outcome) for outcome in outcomes])

    def _check_json(self, request: pb.IngestJsonRequest, known: Known | None = None) -> Checked:
        if request.format == pb.JSON_FORMAT_THINGSBOARD:
            devices = payloads.thingsboard_samples(request.device_id, request.body)
        elif request.format == pb.JSON_FORMAT_BATCH:
            devices = payloads.batch_devices(request.body)
        else:
            raise InvalidArgument([FieldViolation("format", "must be BATCH or THINGSBOARD")])
        if devices and isinstance(devices[0], DeviceColumns):
            return self.ingest.check_columns(request.tenant_id, devices, known)
        return self.ingest.check(request.tenant_id, devices, known)

    def IngestStream(
        self, requests: Iterator[pb.IngestRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.IngestResponse]:
        for request in requests:
            yield response_of(self.ingest.ingest(request.tenant_id, devices_of(request)))
