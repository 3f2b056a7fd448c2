"""Numbers of changes in commit order (see `storage.revisions`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, RowMapping, Table, select, update

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


def current_revisions(connection: Connection) -> dict[str, int]:
    """Every counter's committed value: a reader polling several tables asks them only
    where their counter moved, in one round trip rather than one per table."""
    return {name: value for name, value in connection.execute(select(revisions.c.name, revisions.c.value))}


def rows_changed_since(
    connection: Connection, table: Table, revision: int
) -> tuple[Sequence[RowMapping], int]:
    """The rows of `table` written after `revision`, in order, and the newest revision
    among them (or `revision` when none changed)."""
    query = select(table).where(table.c.revision > revision).order_by(table.c.revision)
    rows = connection.execute(query).mappings().all()
    return rows, rows[-1]["revision"] if rows else revision
