"""Analytics's nameko worker."""

from __future__ import annotations

from services.analytics.storage import metadata
from services.kit.worker import worker_base


class AnalyticsWorker(worker_base("analytics", metadata)):
    name = "analytics"
