"""Accepted batches on the readings queue: what the writer decodes, and what it refuses
as no batch at all (dead-lettered at once)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from services.kit.batches import MAX_TS_MS, AcceptedBatch, MalformedBatch, utc_of

BATCH_ID = "00000000-0000-4000-8000-0000000000b1"
TENANT = "00000000-0000-4000-8000-000000000001"
DEVICE = "00000000-0000-4000-8000-00000000000a"
VALID = {
    "id": BATCH_ID,
    "tenant_id": TENANT,
    "retention_days": 365,
    "devices": [[DEVICE, [[1_764_000_000_000, {"t": 1.5, "n": 2, "on": True, "mode": "idle"}], [0, {}]]]],
}


def body(**changes: object) -> bytes:
    return orjson.dumps({**VALID, **changes})


def test_a_batch_survives_its_trip_through_the_queue() -> None:
    batch = AcceptedBatch(BATCH_ID, TENANT, 30, [(DEVICE, [(MAX_TS_MS, {"t": 1.0, "n": 1, "on": False})])])
    decoded = AcceptedBatch.decode(batch.encode())
    assert (decoded.id, decoded.tenant_id, decoded.retention_days) == (BATCH_ID, TENANT, 30)
    assert decoded.devices == [[DEVICE, [[MAX_TS_MS, {"t": 1.0, "n": 1, "on": False}]]]]
    assert [type(v) for v in decoded.devices[0][1][0][1].values()] == [float, int, bool]
    assert decoded.reading_count() == 3


def test_a_valid_body_decodes_with_every_value_type() -> None:
    batch = AcceptedBatch.decode(body())
    assert batch.reading_count() == 4
    assert AcceptedBatch.decode(body(devices=[])).reading_count() == 0


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b"not json",
        b"[]",
        b"{}",
        orjson.dumps({k: v for k, v in VALID.items() if k != "devices"}),
        orjson.dumps({k: v for k, v in VALID.items() if k != "id"}),
        body(id=1),
        body(tenant_id=None),
        body(retention_days="365"),
        body(retention_days=365.0),
        body(devices=None),
        body(devices=7),
        body(devices={DEVICE: []}),
        body(devices=[[DEVICE, None]]),
        body(devices=[[DEVICE, {"1": {}}]]),
        body(devices=[7]),
        body(devices=[[DEVICE]]),
        body(devices=[[DEVICE, [], "extra"]]),
        body(devices=[[1, []]]),
        body(devices=[["not-a-uuid", []]]),
        body(devices=[[DEVICE, [[1, {}, 2]]]]),
        body(devices=[[DEVICE, [[1.5, {}]]]]),
        body(devices=[[DEVICE, [["1", {}]]]]),
        body(devices=[[DEVICE, [[-1, {}]]]]),
        body(devices=[[DEVICE, [[MAX_TS_MS + 1, {}]]]]),
        body(devices=[[DEVICE, [[1, []]]]]),
        body(devices=[[DEVICE, [{"ts": 1, "values": {}}]]]),
    ],
)
def test_a_message_that_is_no_batch_is_malformed(message: bytes) -> None:
    with pytest.raises(MalformedBatch):
        AcceptedBatch.decode(message)


@pytest.mark.parametrize(
    ("ts_ms", "utc"),
    [
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
        (1_764_000_000_250, datetime(2025, 11, 24, 16, 0, 0, 250_000, tzinfo=UTC)),
        (MAX_TS_MS, datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)),
    ],
)
def test_timestamps_are_milliseconds_since_the_epoch_in_utc(ts_ms: int, utc: datetime) -> None:
    assert utc_of(ts_ms) == utc
