"""The queues telemetry consumes."""

from __future__ import annotations

from services.kit import bus
from services.kit.consumers import ConsumerQueue
from services.telemetry.usecases.directory import DIRECTORY_EVENTS

# telemetry-worker keeps telemetry's directory of devices and profiles from these.
DEVICE_DIRECTORY = ConsumerQueue("telemetry.device-directory", DIRECTORY_EVENTS)
# A work queue fed by the readings exchange, to which telemetry-api sends accepted
# batches: telemetry-writer stores them.
READINGS = ConsumerQueue("telemetry.readings", fed_by=bus.READINGS)

QUEUES = (DEVICE_DIRECTORY, READINGS)
