"""The queues the marketplace consumes."""

from __future__ import annotations

from services.kit.consumers import ConsumerQueue
from services.marketplace.usecases.capacity import CAPACITY_EVENTS
from services.marketplace.usecases.figures import COMPANY_EVENTS
from services.marketplace.usecases.slot_evidence import EVIDENCE_EVENTS

# marketplace-worker keeps its directory of companies from the registry's tenant events.
COMPANIES = ConsumerQueue("marketplace.companies", COMPANY_EVENTS)

# ... and what analytics measured of devices, shown on their capacity listings.
MEASUREMENTS = ConsumerQueue("marketplace.measurements", CAPACITY_EVENTS)

# ... and what it measured of the machine in the slots capacity orders booked.
SLOT_EVIDENCE = ConsumerQueue("marketplace.slot-evidence", EVIDENCE_EVENTS)

QUEUES = (COMPANIES, MEASUREMENTS, SLOT_EVIDENCE)
