"""Telemetry's query calls."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import grpc
from gantry.v1 import common_pb2
from gantry.v1 import telemetry_pb2 as pb
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from services.kit.errors import FieldViolation, InvalidArgument
from services.kit.protos import enum_name, enum_number, from_timestamp, timestamp, value_message
from services.telemetry.domain import Bucket, ChannelValue, Series
from services.telemetry.usecases.readings import Readings


def reading_message(value: ChannelValue) -> pb.Reading:
    return pb.Reading(channel=value.channel, ts=timestamp(value.ts), value=value_message(value.value))


def _time_violation(message: Timestamp) -> str | None:
    if (message.seconds, message.nanos) == (0, 0):
        return "required"
    try:
        from_timestamp(message)
    except ValueError:
        return "not a valid timestamp"
    return None


def _period(request: Any) -> tuple[datetime, datetime]:
    """The request's [start, end), both required: a zero timestamp is an unset one."""
    violations = [
        FieldViolation(field, description)
        for field in ("start", "end")
        if (description := _time_violation(getattr(request, field)))
    ]
    if violations:
        raise InvalidArgument(violations)
    return from_timestamp(request.start), from_timestamp(request.end)


def _bucket_seconds(bucket: Duration) -> int:
    """The bucket width in whole seconds; the use case checks its bounds."""
    if bucket.nanos:
        raise InvalidArgument([FieldViolation("bucket", "must be a whole number of seconds")])
    return bucket.seconds


def _aggregate_names(numbers: Iterable[int]) -> list[str]:
    # An unknown or UNSPECIFIED aggregate becomes a name the use case refuses.
    return [enum_name(pb.Aggregate, number, "") or str(number) for number in numbers]


def _optional_value(value: float | int | bool | str | None) -> pb.Value | None:
    return None if value is None else value_message(value)


def _bucket_message(bucket: Bucket) -> pb.Bucket:
    return pb.Bucket(
        start=timestamp(bucket.start),
        count=bucket.count or 0,
        min=bucket.min,
        max=bucket.max,
        avg=bucket.avg,
        first=_optional_value(bucket.first),
        last=_optional_value(bucket.last),
    )


def _series_message(series: Series) -> pb.Series:
    return pb.Series(
        device_id=series.device_id,
        channel=series.channel,
        bucket=Duration(seconds=series.bucket_seconds),
        aggregates=[enum_number(pb.Aggregate, name, "") for name in series.aggregates],
        buckets=[_bucket_message(b) for b in series.buckets],
    )


class QueriesApi:
    readings: Readings

    def GetLatest(self, request: pb.GetLatestRequest, context: grpc.ServicerContext) -> pb.LatestValues:
        latest = self.readings.get_latest(request.tenant_id, request.device_id)
        return pb.LatestValues(device_id=latest.device_id, values=[reading_message(v) for v in latest.values])

    def QueryRange(
        self, request: pb.QueryRangeRequest, context: grpc.ServicerContext
    ) -> pb.QueryRangeResponse:
        start, end = _period(request)
        page = self.readings.query_range(
            request.tenant_id,
            request.device_id,
            list(request.channels),
            start,
            end,
            request.page.page_size,
            request.page.cursor,
        )
        return pb.QueryRangeResponse(
            readings=[reading_message(r) for r in page.readings],
            page=common_pb2.PageInfo(next_cursor=page.next_cursor, total=-1),
        )

    def QuerySeries(self, request: pb.QuerySeriesRequest, context: grpc.ServicerContext) -> pb.Series:
        start, end = _period(request)
        series = self.readings.query_series(
            request.tenant_id,
            request.device_id,
            request.channel,
            start,
            end,
            _bucket_seconds(request.bucket),
            _aggregate_names(request.aggregates),
        )
        return _series_message(series)

    def ExportCsv(self, request: pb.ExportCsvRequest, context: grpc.ServicerContext) -> Iterator[pb.CsvChunk]:
        start, end = _period(request)
        chunks = self.readings.export_csv(
            request.tenant_id, request.device_id, list(request.channels), start, end
        )
        for data in chunks:
            yield pb.CsvChunk(data=data)
