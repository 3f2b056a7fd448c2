"""Analytics's nameko worker: keeps analytics's directory of devices from the registry's
events, and counts the readings telemetry refused."""

from __future__ import annotations

from services.analytics.bus import DEVICE_DIRECTORY, REJECTIONS
from services.analytics.storage import metadata
from services.analytics.usecases.directory import Directory
from services.analytics.usecases.overview import count_rejected
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
