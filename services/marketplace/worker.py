"""Marketplace's nameko worker."""

from __future__ import annotations

from services.kit.worker import worker_base
from services.marketplace.storage import metadata


class MarketplaceWorker(worker_base("marketplace", metadata)):
    name = "marketplace"
