"""Telemetry's gRPC servicer: one mixin per area of the API, composed here."""

from __future__ import annotations

from gantry.v1 import telemetry_pb2_grpc

from services.kit.store import Store
from services.telemetry.api.queries import QueriesApi
from services.telemetry.queries import Queries

SERVICE_NAME = "gantry.v1.TelemetryService"


class TelemetryServicer(QueriesApi, telemetry_pb2_grpc.TelemetryServiceServicer):
    def __init__(self, store: Store) -> None:
        self.queries = Queries(store.unit_of_work)
