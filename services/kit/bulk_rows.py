"""Rows written and matched in bulk: on PostgreSQL through a session's temporary table
and array parameters, so that hundreds of rows cost a few statements; row by row on
SQLite, the embedded default, where statements cost no round trip."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Table, any_, bindparam, event, update
from sqlalchemy.dialects import postgresql

from services.kit.db import conflict_aware_insert, copy_rows

# The temporary tables a database session has made, in its connection's `info`: a
# session keeps them, so each is made once per connection, not once per use; unless the
# transaction that made it rolls back, which forgets them all.
TEMPORARY_TABLES = "temporary_tables"


@event.listens_for(Engine, "rollback")
def _forget_temporary_tables(connection: Connection) -> None:
    if not connection.invalidated:
        connection.info.pop(TEMPORARY_TABLES, None)


def one_of(connection: Connection, column: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """`column IN values`: on PostgreSQL `= ANY` of one array parameter, so that the
    statement's text is the same whatever the number of values, and costs no parsing of
    a parameter per value; an IN list elsewhere."""
    if connection.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def update_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Writes each row's columns over those of the row of `table` with its primary key.
    On PostgreSQL the rows are copied into a temporary table and applied by one UPDATE:
    hundreds of rows cost two statements; an UPDATE per row elsewhere."""
    if not rows:
        return
    keys, columns = _keys_and_columns(table, rows[0])
    if connection.dialect.name != "postgresql":
        statement = update(table).where(*(table.c[key] == bindparam(f"key_{key}") for key in keys))
        values = {name: bindparam(name) for name in columns}
        connection.execute(
            statement.values(values), [{**row, **{f"key_{key}": row[key] for key in keys}} for row in rows]
        )
        return
    incoming = _copied_aside(connection, table, rows)
    assignments = ", ".join(f'"{name}" = i."{name}"' for name in columns)
    matches = " AND ".join(f't."{key}" = i."{key}"' for key in keys)
    connection.exec_driver_sql(
        f'WITH i AS (DELETE FROM "{incoming}" RETURNING *) '
        f'UPDATE "{table.name}" AS t SET {assignments} FROM i WHERE {matches}'
    )


def upsert_rows(
    connection: Connection, table: Table, rows: Sequence[dict[str, Any]], added: Collection[str] = ()
) -> None:
    """Inserts each row (one per primary key), or writes its columns over those of the row
    with its key; the columns named in `added` are added to instead. Rows are locked in
    the order of their keys, against deadlocks between writers. On PostgreSQL through a
    temporary table, as `update_rows`."""
    if not rows:
        return
    keys, columns = _keys_and_columns(table, rows[0])
    rows = sorted(rows, key=lambda row: tuple(row[key] for key in keys))
    if connection.dialect.name != "postgresql":
        statement = conflict_aware_insert(connection, table)
        excluded = statement.excluded
        changes = {
            name: table.c[name] + excluded[name] if name in added else excluded[name] for name in columns
        }
        connection.execute(statement.on_conflict_do_update(index_elements=keys, set_=changes), rows)
        return
    incoming = _copied_aside(connection, table, rows)
    names = ", ".join(f'"{name}"' for name in rows[0])
    assignments = ", ".join(
        f'"{name}" = "{table.name}"."{name}" + excluded."{name}"'
        if name in added
        else f'"{name}" = excluded."{name}"'
        for name in columns
    )
    key_names = ", ".join(f'"{key}"' for key in keys)
    connection.exec_driver_sql(
        f'WITH i AS (DELETE FROM "{incoming}" RETURNING *) '
        f'INSERT INTO "{table.name}" ({names}) SELECT {names} FROM i ORDER BY {key_names} '
        f"ON CONFLICT ({key_names}) DO UPDATE SET {assignments}"
    )


def _keys_and_columns(table: Table, row: dict[str, Any]) -> tuple[list[str], list[str]]:
    keys = [column.name for column in table.primary_key.columns]
    return keys, [name for name in row if name not in keys]


def _copied_aside(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> str:
    """Copies the rows into the session's temporary table like `table`; the statement
    that reads them deletes them, so that the next use in the same transaction finds it
    empty."""
    incoming = f"incoming_{table.name}"
    made = connection.info.setdefault(TEMPORARY_TABLES, set())
    if incoming not in made:
        connection.exec_driver_sql(
            f'CREATE TEMPORARY TABLE IF NOT EXISTS "{incoming}" (LIKE "{table.name}") ON COMMIT DELETE ROWS'
        )
        made.add(incoming)
    copy_rows(connection, table, rows, into=incoming)
    return incoming
