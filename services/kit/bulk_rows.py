"""Rows written and matched in bulk: on PostgreSQL by statements of array parameters, so
that hundreds of rows cost one statement and one round trip, which a pipeline may share;
row by row on SQLite, the embedded default, where statements cost no round trip."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, any_, bindparam, update
from sqlalchemy.dialects import postgresql

from services.kit.db import conflict_aware_insert, execute_unnested, unnested


def one_of(connection: Connection, column: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """`column IN values`: on PostgreSQL `= ANY` of one array parameter, so that the
    statement's text is the same whatever the number of values, and costs no parsing of
    a parameter per value; an IN list elsewhere."""
    if connection.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def update_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Writes each row's columns over those of the row of `table` with its primary key: on
    PostgreSQL by one UPDATE of array parameters (`unnested`), which a pipeline may carry;
    an UPDATE per row elsewhere."""
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
    _, source, params = unnested(connection, table, rows)
    assignments = ", ".join(f'"{name}" = i."{name}"' for name in columns)
    matches = " AND ".join(f't."{key}" = i."{key}"' for key in keys)
    execute_unnested(
        connection, f'UPDATE "{table.name}" AS t SET {assignments} FROM {source} WHERE {matches}', params
    )


def upsert_rows(
    connection: Connection, table: Table, rows: Sequence[dict[str, Any]], added: Collection[str] = ()
) -> None:
    """Inserts each row (one per primary key), or writes its columns over those of the row
    with its key; the columns named in `added` are added to instead. Rows are locked in
    the order of their keys, against deadlocks between writers. On PostgreSQL by one
    statement of array parameters, as `update_rows`."""
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
    names, source, params = unnested(connection, table, rows)
    assignments = ", ".join(
        f'"{name}" = "{table.name}"."{name}" + excluded."{name}"'
        if name in added
        else f'"{name}" = excluded."{name}"'
        for name in columns
    )
    key_names = ", ".join(f'"{key}"' for key in keys)
    execute_unnested(
        connection,
        f'INSERT INTO "{table.name}" ({names}) SELECT {names} FROM {source} ORDER BY {key_names} '
        f"ON CONFLICT ({key_names}) DO UPDATE SET {assignments}",
        params,
    )


def _keys_and_columns(table: Table, row: dict[str, Any]) -> tuple[list[str], list[str]]:
    keys = [column.name for column in table.primary_key.columns]
    return keys, [name for name in row if name not in keys]
