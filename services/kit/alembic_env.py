"""The body of every service's Alembic `env.py`: online migrations of one metadata."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alembic import context
from sqlalchemy import MetaData

from services.kit.db import UtcDateTime, make_engine


def _render_item(kind: str, item: Any, autogen_context: Any) -> str | bool:
    # Migrations must not import application code that may change later.
    if kind == "type" and isinstance(item, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def include_name(metadata: MetaData) -> Callable[[str | None, str, Any], bool]:
    """Leaves out of comparisons the partitions of the tables named in
    `metadata.info["partitioned"]`: they are made as data arrives, not by migrations."""
    prefixes = tuple(f"{table}_" for table in metadata.info.get("partitioned", ()))

    def included(name: str | None, kind: str, _parent: Any) -> bool:
        return not (kind == "table" and name and prefixes and name.startswith(prefixes))

    return included


def run_migrations(metadata: MetaData) -> None:
    engine = make_engine(context.config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            render_item=_render_item,
            include_name=include_name(metadata),
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
