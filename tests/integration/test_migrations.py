"""Each service's migrations build exactly the schema its code expects, on every backend."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services.kit import platform
from services.kit.alembic_env import include_name
from services.kit.db import make_engine
from services.kit.migrate import alembic_config, upgrade
from services.kit.settings import SERVICES


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_match_the_tables_in_code(service: str, database_url: str) -> None:
    upgrade(service, database_url)
    metadata = platform.service(service).metadata
    engine = make_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": include_name(metadata)})
        differences = compare_metadata(context, metadata)
    engine.dispose()
    assert differences == []


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_downgrade_and_reapply(service: str, database_url: str) -> None:
    upgrade(service, database_url)
    command.downgrade(alembic_config(service, database_url), "base")
    upgrade(service, database_url)
