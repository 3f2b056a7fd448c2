"""Analytics's gRPC servicer: one mixin per area of the API, composed here."""

from __future__ import annotations

from gantry.v1 import analytics_pb2_grpc

from services.analytics import settings
from services.analytics.api.alarms import AlarmsApi
from services.analytics.api.overview import OverviewApi
from services.analytics.api.performance import PerformanceApi
from services.analytics.api.plant_settings import PlantSettingsApi
from services.analytics.api.rules import RulesApi
from services.analytics.api.webhooks import WebhooksApi
from services.analytics.settings import WebhookSettings
from services.analytics.usecases import Clock, utc_now
from services.analytics.usecases.alarms import Alarms
from services.analytics.usecases.capacity import Capacity
from services.analytics.usecases.overview import Overviews
from services.analytics.usecases.performance import Performance
from services.analytics.usecases.plant_settings import PlantSettings
from services.analytics.usecases.rules import Rules
from services.analytics.usecases.webhooks import Webhooks
from services.kit.registry import Registry
from services.kit.store import Store

SERVICE_NAME = "gantry.v1.AnalyticsService"


class AnalyticsServicer(
    RulesApi,
    AlarmsApi,
    OverviewApi,
    WebhooksApi,
    PlantSettingsApi,
    PerformanceApi,
    analytics_pb2_grpc.AnalyticsServiceServicer,
):
    def __init__(self, store: Store, registry: Registry, clock: Clock = utc_now) -> None:
        self.rules = Rules(store.unit_of_work, registry, clock)
        self.alarms = Alarms(store.unit_of_work, clock)
        self.overviews = Overviews(store.unit_of_work, settings.online_window(), clock)
        self.webhooks = Webhooks(store.unit_of_work, WebhookSettings.from_env().url_policy, clock)
        self.plant_settings = PlantSettings(store.unit_of_work, registry, clock)
        self.performance = Performance(store.unit_of_work)
        self.capacity = Capacity(store.unit_of_work, clock)
