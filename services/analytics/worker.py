"""Analytics's nameko worker: keeps analytics's directory of devices from the registry's
events, counts the readings telemetry refused, queues the deliveries of alarm events
to webhooks, publishes the capacity each modelled machine has shown, and reports what
the machine did in each slot capacity orders booked of it, remembering reported slots a
month."""

from __future__ import annotations

from nameko.timer import timer

from services.analytics.bus import BOOKINGS, DEVICE_DIRECTORY, REJECTIONS, WEBHOOK_EVENTS
from services.analytics.settings import capacity_seconds, evidence_margin, evidence_seconds
from services.analytics.storage import metadata
from services.analytics.usecases.capacity import publish_measured_capacity
from services.analytics.usecases.directory import Directory
from services.analytics.usecases.overview import count_rejected
from services.analytics.usecases.slot_evidence import Bookings, forget_reported_slots, report_ended_slots
from services.analytics.usecases.webhooks import Webhooks
from services.kit.events import Event
from services.kit.worker import handle_event, worker_base

FORGET_SECONDS = 3600


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

    # Read when the worker's module is imported, as it starts.
    @timer(interval=capacity_seconds())
    def publish_capacity(self) -> None:
        publish_measured_capacity(self.store.unit_of_work)

    @handle_event(BOOKINGS)
    def on_order_event(self, event: Event) -> None:
        Bookings(self.store.unit_of_work).learn(event)

    @timer(interval=evidence_seconds())
    def report_slot_evidence(self) -> None:
        report_ended_slots(self.store.unit_of_work, evidence_margin())

    @timer(interval=FORGET_SECONDS)
    def forget_old_slots(self) -> None:
        forget_reported_slots(self.store.unit_of_work)
