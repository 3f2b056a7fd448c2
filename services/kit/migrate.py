"""Applies each service's Alembic migrations to its own database.

Usage: python -m services.kit.migrate [SERVICE ...]   (default: every service)
"""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

from services.kit import settings
from services.kit.db import normalise_url

SERVICES_ROOT = Path(__file__).resolve().parent.parent


def alembic_config(service: str, database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SERVICES_ROOT / service / "migrations"))
    url = normalise_url(database_url or settings.database_url(service))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(service: str, database_url: str | None = None) -> None:
    command.upgrade(alembic_config(service, database_url), "head")


def main(argv: list[str]) -> None:
    for service in argv or settings.SERVICES:
        if service not in settings.SERVICES:
            raise SystemExit(f"unknown service {service!r}; one of {', '.join(settings.SERVICES)}")
        upgrade(service)
        print(f"{service}: migrated")


if __name__ == "__main__":
    main(sys.argv[1:])
