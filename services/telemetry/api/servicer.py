"""Telemetry's gRPC servicer: one mixin per area of the API, composed here."""

from __future__ import annotations

from collections.abc import Callable

from gantry.v1 import telemetry_pb2_grpc

from services.kit.store import Store
from services.telemetry import storage
from services.telemetry.api.ingest import IngestApi
from services.telemetry.api.queries import QueriesApi
from services.telemetry.api.retention import RetentionApi
from services.telemetry.batches import AcceptedBatch
from services.telemetry.ingest import Ingest, IngestLimits
from services.telemetry.queries import Queries
from services.telemetry.retention import Retention
from services.telemetry.rules import DeviceRules
from services.telemetry.rules_cache import DeviceRulesCache

SERVICE_NAME = "gantry.v1.TelemetryService"


def rules_loader(store: Store) -> Callable[[str], DeviceRules | None]:
    def load(device_id: str) -> DeviceRules | None:
        with store.unit_of_work(read_only=True) as uow:
            return storage.load_device_rules(uow.connection, device_id)

    return load


class TelemetryServicer(IngestApi, QueriesApi, RetentionApi, telemetry_pb2_grpc.TelemetryServiceServicer):
    def __init__(
        self,
        store: Store,
        send: Callable[[AcceptedBatch], None],
        retention_days: int,
        limits: IngestLimits | None = None,
    ) -> None:
        # Checked on every ingest call; kept fresh by the registry's events (see __main__).
        self.rules = DeviceRulesCache(rules_loader(store))
        self.retention = Retention(store.unit_of_work, retention_days)
        self.ingest = Ingest(self.rules.get, self.retention.days, send, limits or IngestLimits())
        self.queries = Queries(store.unit_of_work)
