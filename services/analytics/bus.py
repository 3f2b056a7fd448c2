"""The queues analytics consumes."""

from __future__ import annotations

from services.analytics.partitions import WHOLE, all_partitions
from services.analytics.usecases.directory import DIRECTORY_EVENTS
from services.analytics.usecases.slot_evidence import BOOKING_EVENTS
from services.kit.consumers import ConsumerQueue
from services.kit.events import ALARM_EVENTS

# analytics-worker keeps analytics's directory of devices from these.
DEVICE_DIRECTORY = ConsumerQueue("analytics.device-directory", DIRECTORY_EVENTS)
# Every accepted batch of readings, fed by the readings exchange beside
# telemetry-writer's queue: analytics-evaluator evaluates alarm rules on them, keeping
# each device's state in memory, so one process at a time consumes them, in order; one
# queue per partition of the devices (see partitions.py), this the first's.
READINGS = WHOLE.queue

# analytics-worker adds up the readings ingest refused, for the tenants' overviews.
REJECTIONS = ConsumerQueue("analytics.readings-rejected", ("telemetry.readings_rejected",))
# Alarm events, analytics's own: analytics-worker queues their deliveries to webhooks.
WEBHOOK_EVENTS = ConsumerQueue("analytics.webhook-events", ALARM_EVENTS)
# The marketplace's order events: analytics-worker keeps the slots capacity orders book,
# to report what the machine did in them.
BOOKINGS = ConsumerQueue("analytics.capacity-bookings", BOOKING_EVENTS)


def queues() -> tuple[ConsumerQueue, ...]:
    """Every queue analytics consumes, with its settings' partitions of readings."""
    return (DEVICE_DIRECTORY, *(p.queue for p in all_partitions()), REJECTIONS, WEBHOOK_EVENTS, BOOKINGS)
