"""The queues the registry consumes."""

from __future__ import annotations

from services.kit.consumers import ConsumerQueue

# registry-worker moves devices' last-seen times forward from telemetry's stored batches.
DEVICE_ACTIVITY = ConsumerQueue("registry.device-activity", ("telemetry.batch_stored",))

QUEUES = (DEVICE_ACTIVITY,)
