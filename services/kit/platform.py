"""The platform's services, listed once: each one's tables, migrations and the queues
it consumes. `python -m services.kit.migrate` migrates and declares from this list."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import MetaData

from services.analytics import bus as analytics_bus
from services.analytics import storage as analytics_storage
from services.kit.consumers import ConsumerQueue
from services.marketplace import bus as marketplace_bus
from services.marketplace import storage as marketplace_storage
from services.registry import bus as registry_bus
from services.registry import storage as registry_storage
from services.telemetry import bus as telemetry_bus
from services.telemetry import storage as telemetry_storage

SERVICES_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Service:
    name: str
    metadata: MetaData
    # The queues it consumes, as its settings have them when asked (analytics's readings
    # come in a queue per partition).
    consumed: Callable[[], tuple[ConsumerQueue, ...]]

    @property
    def queues(self) -> tuple[ConsumerQueue, ...]:
        return self.consumed()

    @property
    def migrations(self) -> Path:
        """The folder of the service's Alembic history."""
        return SERVICES_ROOT / self.name / "migrations"


SERVICES = (
    Service("registry", registry_storage.metadata, lambda: registry_bus.QUEUES),
    Service("telemetry", telemetry_storage.metadata, lambda: telemetry_bus.QUEUES),
    Service("marketplace", marketplace_storage.metadata, lambda: marketplace_bus.QUEUES),
    Service("analytics", analytics_storage.metadata, analytics_bus.queues),
)
_BY_NAME = {service.name: service for service in SERVICES}


def service(name: str) -> Service:
    """The service named; SystemExit, naming the services, for any other name."""
    if name not in _BY_NAME:
        raise SystemExit(f"unknown service {name!r}; one of {', '.join(_BY_NAME)}")
    return _BY_NAME[name]


def consumer_queues(names: Sequence[str]) -> list[ConsumerQueue]:
    """Every queue the services named consume."""
    return [queue for name in names for queue in service(name).queues]
