"""The body of every service's Alembic `env.py`: online migrations of one metadata."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import MetaData

from services.kit.db import UtcDateTime, make_engine


def _render_item(kind: str, item: Any, autogen_context: Any) -> str | bool:
    # Migrations must not import application code that may change later.
    if kind == "type" and isinstance(item, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations(metadata: MetaData) -> None:
    engine = make_engine(context.config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            render_item=_render_item,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
