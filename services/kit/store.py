"""A service's database as its processes use it: units of work whose events reach the bus."""

from __future__ import annotations

from sqlalchemy import MetaData

from services.kit import settings
from services.kit.bus import OutboxRelay, Publish
from services.kit.db import UnitOfWork, make_engine


class Store:
    def __init__(self, service: str, metadata: MetaData, publish: Publish, url: str | None = None) -> None:
        url = url or settings.database_url(service)
        self.engine = make_engine(url)
        # A lone query needs no transaction: the hottest reads skip BEGIN and ROLLBACK.
        self.reader = make_engine(url, autocommit=True)
        self.metadata = metadata
        self.relay = OutboxRelay(self.engine, metadata, publish)

    def unit_of_work(self, read_only: bool = False) -> UnitOfWork:
        """A transaction whose events are published as soon as it commits; or, read-only,
        a connection for queries alone."""
        engine = self.reader if read_only else self.engine
        return UnitOfWork(engine, self.metadata, after_commit=self.relay.publish_now, read_only=read_only)

    def close(self) -> None:
        self.engine.dispose()
        self.reader.dispose()
