"""Analytics's gRPC servicer: one mixin per area of the API, composed here."""

from __future__ import annotations

from gantry.v1 import analytics_pb2_grpc

from services.analytics import settings
from services.analytics.api.alarms import AlarmsApi
from services.analytics.api.overview import OverviewApi
from services.analytics.api.rules import RulesApi
from services.analytics.usecases.alarms import Alarms
from services.analytics.usecases.overview import Overviews
from services.analytics.usecases.rules import Rules
from services.kit.registry import Registry
from services.kit.store import Store

SERVICE_NAME = "gantry.v1.AnalyticsService"


class AnalyticsServicer(RulesApi, AlarmsApi, OverviewApi, analytics_pb2_grpc.AnalyticsServiceServicer):
    def __init__(self, store: Store, registry: Registry) -> None:
        self.rules = Rules(store.unit_of_work, registry)
        self.alarms = Alarms(store.unit_of_work)
        self.overviews = Overviews(store.unit_of_work, settings.online_window())
