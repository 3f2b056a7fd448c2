"""The queues the marketplace consumes."""

from __future__ import annotations

from services.kit.consumers import ConsumerQueue
from services.marketplace.usecases.figures import COMPANY_EVENTS

# marketplace-worker keeps its directory of companies from the registry's tenant events.
COMPANIES = ConsumerQueue("marketplace.companies", COMPANY_EVENTS)

QUEUES = (COMPANIES,)
