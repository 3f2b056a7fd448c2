"""Telemetry's gRPC servicer: one mixin per area of the API, composed here."""

from __future__ import annotations

from collections.abc import Callable

from gantry.v1 import telemetry_pb2_grpc

from services.kit.batches import AcceptedBatch
from services.kit.store import Store
from services.telemetry.api.ingest import IngestApi
from services.telemetry.api.queries import QueriesApi
from services.telemetry.api.retention import RetentionApi
from services.telemetry.rules_cache import DeviceRulesCache
from services.telemetry.settings import IngestLimits
from services.telemetry.usecases.directory import Directory
from services.telemetry.usecases.ingest import Ingest
from services.telemetry.usecases.readings import Readings
from services.telemetry.usecases.rejections import RejectionTally
from services.telemetry.usecases.retention import Retention

SERVICE_NAME = "gantry.v1.TelemetryService"


class TelemetryServicer(IngestApi, QueriesApi, RetentionApi, telemetry_pb2_grpc.TelemetryServiceServicer):
    def __init__(
        self,
        store: Store,
        send: Callable[[AcceptedBatch], None],
        retention_days: int,
        limits: IngestLimits | None = None,
    ) -> None:
        # Checked on every ingest call; kept fresh by the registry's events (see __main__).
        self.rules = DeviceRulesCache(Directory(store.unit_of_work).device_rules)
        self.retention = Retention(store.unit_of_work, retention_days)
        # Refusals are counted for the tenants' overviews; `__main__` reports them.
        self.rejections = RejectionTally(store.unit_of_work)
        self.ingest = Ingest(
            self.rules.get,
            self.retention.days,
            send,
            limits or IngestLimits(),
            on_rejected=self.rejections.add,
        )
        self.readings = Readings(store.unit_of_work)
