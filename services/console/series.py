"""A device's channel for its chart (JSON, drawn by uPlot), and its latest values as they
change (Server-Sent Events).

The chart's buckets are chosen so that telemetry's rollups answer: whole minutes at least,
a bucket of one of the sizes below whose range is widened to whole buckets (aligned to the
epoch, as telemetry aligns them), and at most about `MAX_POINTS` of them, so that a year of
a channel is 365 daily rollups rather than millions of readings."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import orjson
from gantry.v1 import telemetry_pb2
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from services.console.backend import ask, for_tenant, object_id
from services.console.plant_values import reading_view
from services.console.sessions import Principal
from services.kit.grpc_clients import Backends

MAX_POINTS = 1000
# Each a multiple of a rollup's resolution (minute, hour, day).
BUCKET_SECONDS = (60, 300, 900, 3600, 3 * 3600, 86_400, 7 * 86_400)
LONGEST_RANGE_SECONDS = 10 * 366 * 86_400
POLL_SECONDS = 2.0
# A stream ends after this; the browser's EventSource opens another, whose session is
# resolved again, so a signed-out person stops receiving within this time.
STREAM_SECONDS = 300.0


def chart_bucket(start: float, end: float) -> tuple[int, int, int]:
    """The bucket (seconds) of at most about MAX_POINTS buckets over [start, end), and the
    range widened to whole buckets: (bucket, start, end) in seconds since the epoch."""
    span = end - start
    bucket = next((b for b in BUCKET_SECONDS if span / b <= MAX_POINTS), BUCKET_SECONDS[-1])
    return bucket, math.floor(start / bucket) * bucket, math.ceil(end / bucket) * bucket


def parse_moment(text: str, name: str) -> float:
    """Seconds since the epoch, given as such or as an RFC 3339 time with its offset."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise HTTPException(400, f"{name} must be seconds since the epoch or an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise HTTPException(400, f"{name} needs its UTC offset")
    return moment.timestamp()


def _range(request: Request) -> tuple[str, float, float]:
    query = request.query_params
    channel = query.get("channel", "")
    if not channel:
        raise HTTPException(400, "channel is required")
    start, end = parse_moment(query.get("from", ""), "from"), parse_moment(query.get("to", ""), "to")
    if not (math.isfinite(start) and math.isfinite(end)) or start >= end:
        raise HTTPException(400, "to must be after from")
    if end - start > LONGEST_RANGE_SECONDS:
        raise HTTPException(400, "the range is at most ten years")
    return channel, start, end


def _timestamp(seconds: int) -> Timestamp:
    return Timestamp(seconds=seconds)


def _json(body: object, status: int = 200) -> Response:
    return Response(
        orjson.dumps(body), status, media_type="application/json", headers={"Cache-Control": "no-store"}
    )


def _problem(error: HTTPException) -> Response:
    return Response(
        orjson.dumps({"title": error.detail, "status": error.status_code}),
        error.status_code,
        media_type="application/problem+json",
    )


def routes(backends: Backends) -> list[Route]:
    @for_tenant(backends, "telemetry:read")
    async def series(request: Request, principal: Principal) -> Response:
        try:
            return _json(await _series(backends, principal, request))
        except HTTPException as error:
            return _problem(error)

    @for_tenant(backends, "telemetry:read")
    async def live(request: Request, principal: Principal) -> Response:
        asking = telemetry_pb2.GetLatestRequest(
            tenant_id=principal.tenant_id, device_id=object_id(request, "device_id")
        )
        # Asked once before answering, so that another tenant's device is a 404, not a stream.
        first = await ask(backends.telemetry.GetLatest, asking)
        return StreamingResponse(
            _latest_events(backends, request, asking, first),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return [
        Route("/devices/{device_id}/series", series, name="device_series"),
        Route("/devices/{device_id}/live", live, name="device_live"),
    ]


async def _series(backends: Backends, principal: Principal, request: Request) -> dict:
    device_id = object_id(request, "device_id")
    channel, start, end = _range(request)
    bucket, aligned_start, aligned_end = chart_bucket(start, end)
    found = await ask(
        backends.telemetry.QuerySeries,
        telemetry_pb2.QuerySeriesRequest(
            tenant_id=principal.tenant_id,
            device_id=device_id,
            channel=channel,
            start=_timestamp(aligned_start),
            end=_timestamp(aligned_end),
            bucket=Duration(seconds=bucket),
            aggregates=[telemetry_pb2.AVG, telemetry_pb2.MIN, telemetry_pb2.MAX],
        ),
    )
    # uPlot's shape: one array of times, one of values per line.
    return {
        "channel": channel,
        "bucket_seconds": bucket,
        "from": aligned_start,
        "to": aligned_end,
        "t": [b.start.seconds for b in found.buckets],
        "avg": [b.avg if b.HasField("avg") else None for b in found.buckets],
        "min": [b.min if b.HasField("min") else None for b in found.buckets],
        "max": [b.max if b.HasField("max") else None for b in found.buckets],
    }


def _event(latest: telemetry_pb2.LatestValues) -> bytes:
    values = [
        {**view, "at": view["at"].astimezone(UTC).isoformat() if view["at"] else None}
        for view in map(reading_view, latest.values)
    ]
    return b"event: latest\ndata: " + orjson.dumps(values) + b"\n\n"


async def _latest_events(
    backends: Backends,
    request: Request,
    asking: telemetry_pb2.GetLatestRequest,
    first: telemetry_pb2.LatestValues,
) -> AsyncIterator[bytes]:
    """The latest values now, then whenever they change, polled every POLL_SECONDS for at
    most STREAM_SECONDS, and not after the browser went."""
    yield f"retry: {int(POLL_SECONDS * 1000)}\n\n".encode() + _event(first)
    shown = first
    loop = asyncio.get_running_loop()
    ends_at = loop.time() + STREAM_SECONDS
    while loop.time() < ends_at and not await request.is_disconnected():
        await asyncio.sleep(POLL_SECONDS)  # the poll's period, not a wait for another task
        try:
            latest = await ask(backends.telemetry.GetLatest, asking)
        except HTTPException:
            return  # telemetry away for now: the browser opens another stream after `retry`
        if latest != shown:
            shown = latest
            yield _event(latest)
        else:
            yield b": unchanged\n\n"  # a write to a closed connection ends the stream
