"""The registry's nameko worker."""

from __future__ import annotations

from services.kit.worker import worker_base
from services.registry.storage import metadata


class RegistryWorker(worker_base("registry", metadata)):
    name = "registry"
