"""Readings: bulk ingest with an API key, and reading them back (latest values, raw
pages, downsampled series, CSV export)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from gantry.v1 import telemetry_pb2 as pb
from google.protobuf import duration_pb2
from starlette.responses import Response, StreamingResponse

from services.gateway.clients import call, open_stream
from services.gateway.endpoints import CSV, Call, Endpoint, json_response, malformed_json
from services.gateway.protojson import page_json, to_json, to_message
from services.gateway.schemas import telemetry as schemas

INGEST_MAX_BODY_BYTES = 8 * 1024 * 1024


async def get_latest(c: Call) -> Response:
    request = pb.GetLatestRequest(tenant_id=c.tenant_id, device_id=c.path("device_id"))
    return json_response(to_json(await call(c.backends.telemetry.GetLatest, request)))


def _device_query(c: Call, kind: type[Any], values: dict[str, Any]) -> Any:
    """A query of the device in the path, for the caller's tenant."""
    return to_message(kind, values, tenant_id=c.tenant_id, device_id=c.path("device_id"))


async def query_readings(c: Call) -> Response:
    request = _device_query(c, pb.QueryRangeRequest, c.query)
    page = await call(c.backends.telemetry.QueryRange, request, field_prefix="page.")
    return json_response(page_json(page.readings, page.page))


async def query_series(c: Call) -> Response:
    width = duration_pb2.Duration(seconds=c.query["bucket"])
    request = _device_query(c, pb.QuerySeriesRequest, {**c.query, "bucket": width})
    series = to_json(await call(c.backends.telemetry.QuerySeries, request))
    # A bucket shows the aggregates asked for (or that apply), not every field of its message.
    shown = ("start", *series["aggregates"])
    series["buckets"] = [{name: bucket[name] for name in shown} for bucket in series["buckets"]]
    return json_response(series)


async def export_readings(c: Call) -> Response:
    first, rest = await open_stream(
        c.backends.telemetry.ExportCsv, _device_query(c, pb.ExportCsvRequest, c.query)
    )

    async def chunks() -> AsyncIterator[bytes]:
        if first is not None:
            yield first.data
            async for chunk in rest:
                yield chunk.data

    disposition = {"Content-Disposition": f'attachment; filename="{c.path("device_id")}.csv"'}
    return StreamingResponse(chunks(), media_type=CSV, headers=disposition)


async def ingest_telemetry(c: Call) -> Response:
    # Telemetry parses the body; a batch that is not even an object is refused here as
    # every other route refuses it, at the cost of a glance at its first byte.
    if not c.raw.lstrip().startswith(b"{"):
        raise malformed_json("not a JSON object")
    request = pb.IngestJsonRequest(tenant_id=c.tenant_id, format=pb.JSON_FORMAT_BATCH, body=c.raw)
    return json_response(to_json(await call(c.backends.telemetry.IngestJson, request)))


async def get_retention(c: Call) -> Response:
    request = pb.GetRetentionRequest(tenant_id=c.tenant_id)
    return json_response(_retention_json(await call(c.backends.telemetry.GetRetention, request)))


async def set_retention(c: Call) -> Response:
    request = pb.Retention(tenant_id=c.tenant_id, days=c.body["days"])
    return json_response(_retention_json(await call(c.backends.telemetry.SetRetention, request)))


def _retention_json(retention: pb.Retention) -> dict[str, int]:
    return {"days": retention.days}


ENDPOINTS = [
    Endpoint(
        "GET",
        "/v1/devices/{device_id}/telemetry/latest",
        get_latest,
        "Latest value of every channel of a device",
        "telemetry",
        scope="telemetry:read",
        response=schemas.LatestValues,
        errors=(401, 403, 404, 422),
    ),
    Endpoint(
        "POST",
        "/v1/telemetry",
        ingest_telemetry,
        "Send readings of many devices at once, in samples or in columns; each bad reading is "
        "reported, the rest accepted",
        "telemetry",
        scope="telemetry:write",
        body=schemas.TelemetryBatch,
        raw_body=True,
        other_bodies=(schemas.TelemetryColumns,),
        max_body_bytes=INGEST_MAX_BODY_BYTES,
        response=schemas.IngestResult,
        errors=(401, 403, 413, 415, 422, 503),
    ),
    Endpoint(
        "GET",
        "/v1/devices/{device_id}/telemetry",
        query_readings,
        "A device's readings in a period, by time then channel, a page at a time",
        "telemetry",
        scope="telemetry:read",
        query=schemas.ReadingsPageQuery,
        response=schemas.ReadingList,
        errors=(401, 403, 404, 422),
    ),
    Endpoint(
        "GET",
        "/v1/devices/{device_id}/telemetry/series",
        query_series,
        "One channel of a device downsampled into buckets (min, max, avg, count, first, last)",
        "telemetry",
        scope="telemetry:read",
        query=schemas.SeriesQuery,
        response=schemas.SeriesResult,
        errors=(401, 403, 404, 422),
    ),
    Endpoint(
        "GET",
        "/v1/devices/{device_id}/telemetry/export",
        export_readings,
        "A device's readings in a period as CSV (ts, channel, value), streamed",
        "telemetry",
        scope="telemetry:read",
        query=schemas.ReadingsQuery,
        response=None,
        media_type=CSV,
        errors=(401, 403, 404, 422),
    ),
    Endpoint(
        "GET",
        "/v1/telemetry/retention",
        get_retention,
        "How long the tenant's readings are kept, in days",
        "telemetry",
        scope="telemetry:read",
        response=schemas.Retention,
        errors=(401, 403),
    ),
    Endpoint(
        "PUT",
        "/v1/telemetry/retention",
        set_retention,
        "Choose how long the tenant's readings are kept from now on (readings already stored "
        "keep the retention they were written with)",
        "telemetry",
        scope="admin",
        body=schemas.Retention,
        response=schemas.Retention,
        errors=(401, 403, 422),
    ),
]
