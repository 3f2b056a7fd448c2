"""Numbers of changes in commit order (see `storage.revisions`)."""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from services.analytics.storage import revisions


def next_revision(connection: Connection, name: str) -> int:
    """The number of a change made in this transaction; holds the counter's row lock until
    the transaction ends, so that numbers commit in the order they were drawn."""
    statement = (
        update(revisions)
        .where(revisions.c.name == name)
        .values(value=revisions.c.value + 1)
        .returning(revisions.c.value)
    )
    return connection.execute(statement).scalar_one()


def current_revision(connection: Connection, name: str) -> int:
    return connection.execute(select(revisions.c.value).where(revisions.c.name == name)).scalar_one()
