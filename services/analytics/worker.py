"""Analytics's nameko worker: keeps analytics's directory of devices from the registry's
events, counts the readings telemetry refused, and queues the deliveries of alarm events
to webhooks."""

from __future__ import annotations

from services.analytics.bus import DEVICE_DIRECTORY, REJECTIONS, WEBHOOK_EVENTS
from services.analytics.storage import metadata
from services.analytics.usecases.directory import Directory
from services.analytics.usecases.overview import count_rejected
from services.analytics.usecases.webhooks import Webhooks
from services.kit.events import Event
from services.kit.worker import handle_event, worker_base


class AnalyticsWorker(worker_base("analytics", metadata)):
    name = "analytics"

    @handle_event(DEVICE_DIRECTORY)
    def on_registry_event(self, event: Event) -> None:
        Directory(self.store.unit_of_work).learn(event)

    @handle_event(REJECTIONS)
    def on_readings_rejected(self, event: Event) -> None:
        count_rejected(self.store.unit_of_work, event)

    @handle_event(WEBHOOK_EVENTS)
    def on_alarm_event(self, event: Event) -> None:
        Webhooks(self.store.unit_of_work).enqueue(event)
