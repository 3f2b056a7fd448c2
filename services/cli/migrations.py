"""Each service's database revision against the newest of its migrations."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from services.kit import platform
from services.kit.db import normalise_url
from services.kit.migrate import alembic_config
from services.kit.settings import database_url


@dataclass(frozen=True)
class Revision:
    service: str
    applied: str | None
    newest: str | None
    problem: str = ""

    @property
    def current(self) -> bool:
        return not self.problem and self.applied == self.newest

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "current": self.current}


def revisions() -> list[Revision]:
    return [revision(service.name) for service in platform.SERVICES]


def revision(service: str) -> Revision:
    newest = ScriptDirectory.from_config(alembic_config(service)).get_current_head()
    url = make_url(normalise_url(database_url(service)))
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        # Connecting would create an empty database where there is none.
        return Revision(service, None, newest, "no database")
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            applied = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as error:
        return Revision(service, None, newest, f"database unreachable: {type(error.orig or error).__name__}")
    finally:
        engine.dispose()
    return Revision(service, applied, newest)
