"""Analytics's gRPC servicer: one mixin per area of the API, composed here."""

from __future__ import annotations

from gantry.v1 import analytics_pb2_grpc

from services.kit.registry import Registry
from services.kit.store import Store

SERVICE_NAME = "gantry.v1.AnalyticsService"


class AnalyticsServicer(analytics_pb2_grpc.AnalyticsServiceServicer):
    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        self.registry = registry
