"""Each tenant's retention tier: what ingest refuses as too old, which tier readings are
stored in, and expiry that drops whole day partitions."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from gantry.v1 import telemetry_pb2 as pb
from sqlalchemy import inspect

from services.kit.bus import ConfirmingPublisher, Topology
from services.kit.store import Store
from services.telemetry.queries.partitions import day_partition
from services.telemetry.usecases import retention
from tests.support.access import code_of, violations
from tests.support.telemetry import (
    Stub,
    ingest_request,
    readings_store,
    running_writer,
    sample,
    store_readings,
    stored_count,
    stored_readings,
    teach_device,
    telemetry_server,
)
from tests.support.waiting import eventually

DAY_MS = 86_400_000


@pytest.fixture
def store(database_url: str, publisher: ConfirmingPublisher, topology: Topology) -> Iterator[Store]:
    with readings_store(database_url, publisher, topology) as telemetry:
        yield telemetry


@pytest.fixture
def telemetry(store: Store, publisher: ConfirmingPublisher) -> Iterator[Stub]:
    with telemetry_server(store, publisher) as stub:
        yield stub


def test_a_tenant_chooses_a_tier_and_ingest_follows_it(
    store: Store, telemetry: Stub, topology: Topology
) -> None:
    tenant = str(uuid.uuid4())
    assert telemetry.GetRetention(pb.GetRetentionRequest(tenant_id=tenant)).days == 365
    assert telemetry.SetRetention(pb.Retention(tenant_id=tenant, days=30)).days == 30
    assert telemetry.GetRetention(pb.GetRetentionRequest(tenant_id=tenant)).days == 30
    assert "days" in violations(lambda: telemetry.SetRetention(pb.Retention(tenant_id=tenant, days=31)))
    assert code_of(lambda: telemetry.GetRetention(pb.GetRetentionRequest(tenant_id="x"))) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )

    device = teach_device(store, tenant)
    now_ms = int(time.time() * 1000)
    response = telemetry.Ingest(
        ingest_request(
            tenant,
            (
                device,
                [
                    sample(now_ms - 40 * DAY_MS, spindle_temp=1.0),
                    sample(now_ms - 20 * DAY_MS, spindle_temp=2.0),
                ],
            ),
        )
    )
    assert [pb.RejectionReason.Name(r.reason) for r in response.rejections] == ["TOO_OLD"]
    assert response.accepted == 1
    with running_writer(store, topology):
        eventually(lambda: stored_count(store, device) == 1, what="the reading to be stored")
    assert [reading.retention_days for reading in stored_readings(store)] == [30]


def test_expiry_removes_readings_past_their_tier_only(store: Store) -> None:
    now = datetime.now(UTC)
    device = uuid.uuid4()
    stamps = {(30, now - timedelta(days=40)), (30, now - timedelta(days=10)), (365, now - timedelta(days=40))}
    for days, ts in stamps:
        store_readings(store, str(device), [("t", ts, 1.0)], days)
    removed = retention.expire(store.unit_of_work, now)
    kept = [(reading.retention_days, reading.ts) for reading in stored_readings(store)]
    with store.engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
    assert sorted(days for days, _ in kept) == [30, 365]
    assert removed == 1
    old_partition = day_partition(30, (now - timedelta(days=40)).date())
    if store.engine.dialect.name == "postgresql":
        assert old_partition not in tables
        assert day_partition(30, (now - timedelta(days=10)).date()) in tables
