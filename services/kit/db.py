"""SQLAlchemy engines, units of work and the tables every service keeps for messaging."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson
import psycopg
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    TypeDecorator,
    create_engine,
    event,
    insert,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InvalidatePoolError

from services.kit.bus import OutgoingMessage
from services.kit.errors import CommitOutcomeUnknown
from services.kit.events import Event
from services.kit.faults import lost_connection
from services.kit.logs import current_request_id

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def new_metadata() -> MetaData:
    """A service's metadata, holding the outbox and inbox tables beside its own."""
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    Table(
        "outbox",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("type", String(64), nullable=False),
        Column("body", JSON, nullable=False),
        Column("request_id", String(64), nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("published_at", UtcDateTime(), index=True),
    )
    Table(
        "processed_events",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("processed_at", UtcDateTime(), nullable=False),
    )
    return metadata


def normalise_url(url: str) -> str:
    """Lets operators write plain `postgresql://` URLs; the driver is psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # The API and worker processes of a service share the file: WAL lets them
    # read while the other writes, and the timeout waits out short write locks.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def json_text(value: Any) -> str:
    """`value` as the text of a JSON column; what orjson cannot write (integers beyond 64
    bits) is written by the standard library, as it was before."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def make_engine(url: str, autocommit: bool = False, custom_plans: bool = False) -> Engine:
    """An engine of `url`; with `autocommit`, one for lone reads, whose connections stay
    in autocommit: no BEGIN, ROLLBACK or switching of modes around each query.

    With `custom_plans`, PostgreSQL plans every execution of a prepared statement for its
    parameters and the tables as they are: for a process whose statements run thousands
    of times against tables that grow from nothing (analytics-evaluator's alarms), a
    generic plan cached while a table was small scans it whole once it has grown, until
    an ANALYZE happens to replace it. Planning costs a fraction of a millisecond."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    # Lone reads in autocommit: no reset of the connection on its return to the pool.
    pooling: dict[str, Any] = (
        {"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None, "pool_size": 8, "max_overflow": 8}
        if autocommit
        else {"pool_size": 10, "max_overflow": 20}
    )
    engine = create_engine(
        url,
        **pooling,
        pool_recycle=1800,
        # orjson reads and writes JSON columns in a fraction of the standard library's time.
        json_serializer=json_text,
        json_deserializer=orjson.loads,
        connect_args={"options": "-c plan_cache_mode=force_custom_plan"} if custom_plans else {},
    )
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Pings a pooled connection before handing it out when it has been idle for
    `PING_IDLE_SECONDS`, and on failure replaces every connection pooled before it.

    A connection in steady use costs nothing more (a ping on every checkout would cost
    a fifth of a lone read); one that lay idle while the server restarted is caught
    before a call gets it. A connection in use when the server went away fails its one
    statement, and SQLAlchemy then replaces the whole pool likewise.
    """

    @event.listens_for(engine, "checkin")
    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < PING_IDLE_SECONDS:
            return
        try:
            dbapi_connection.cursor().execute("SELECT 1")
        except Exception as error:
            raise InvalidatePoolError(f"pooled connection lost while idle: {error}") from error


def conflict_aware_insert(connection: Connection, table: Table) -> Any:
    """An INSERT into `table` that can say what to do ON CONFLICT, in the connection's dialect."""
    dialect = connection.dialect.name
    module = {"postgresql": postgresql, "sqlite": sqlite}.get(dialect)
    if module is None:
        raise NotImplementedError(f"no INSERT ... ON CONFLICT for {dialect}")
    return module.insert(table)


def insert_ignoring_duplicates(connection: Connection, table: Table, rows: Iterable[dict[str, Any]]) -> int:
    """Inserts rows, skipping those whose key exists; returns how many were new."""
    rows = list(rows)
    if not rows:
        return 0
    # rowcount is unreliable for executemany on PostgreSQL; RETURNING counts exactly.
    statement = (
        conflict_aware_insert(connection, table)
        .on_conflict_do_nothing()
        .returning(*table.primary_key.columns)
    )
    return len(connection.execute(statement, rows).all())


def driver_connection(connection: Connection) -> Any:
    """The driver's own connection under `connection`, in its transaction: for the few
    hot statements that skip SQLAlchemy's result machinery (psycopg's prepared
    statements, binary arrays, COPY)."""
    return connection.connection.driver_connection


def pipelined(connection: Connection) -> AbstractContextManager[Any]:
    """Statements run inside are sent together and answered at the end, in one round trip,
    on PostgreSQL; as usual elsewhere. Only for statements whose results are not read."""
    if connection.dialect.name == "postgresql":
        return driver_connection(connection).pipeline()
    return nullcontext()


def copy_rows(
    connection: Connection, table: Table, rows: Sequence[dict[str, Any]], into: str | None = None
) -> None:
    """Inserts rows with COPY on PostgreSQL: thousands of rows cost one statement, with no
    per-row parsing or planning; an ordinary INSERT elsewhere. Each value goes through its
    column's type as an INSERT's would (JSON to text, times to UTC). `into`: another
    table of the same columns to copy them into instead (PostgreSQL only)."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), list(rows))
        return
    columns = [(name, table.c[name].type.bind_processor(connection.dialect)) for name in rows[0]]
    names = ", ".join(f'"{name}"' for name, _ in columns)
    cursor = driver_connection(connection).cursor()
    with cursor.copy(f'COPY "{into or table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(
                [row[name] if process is None else process(row[name]) for name, process in columns]
            )


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Inserts rows by one statement: on PostgreSQL of one array parameter per column, so
    that hundreds of rows cost one round trip, which a pipeline may share with others
    (`pipelined`), as COPY's may not; an INSERT per row elsewhere."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), list(rows))
        return
    names, source, params = unnested(connection, table, rows)
    execute_unnested(connection, f'INSERT INTO "{table.name}" ({names}) SELECT * FROM {source}', params)


def unnested(
    connection: Connection, table: Table, rows: Sequence[dict[str, Any]]
) -> tuple[str, str, dict[str, list[Any]]]:
    """The rows' columns, quoted and listed; the rows as a PostgreSQL FROM item,
    `unnest(...) AS i (their columns)`; and its parameters: an array per column, each value
    bound through its column's type as an INSERT's would be (JSON to text, times to UTC)."""
    arrays, params = [], {}
    for index, name in enumerate(rows[0]):
        column_type = table.c[name].type
        process = column_type.bind_processor(connection.dialect)
        values = [row[name] for row in rows]
        params[f"c{index}"] = values if process is None else [process(value) for value in values]
        arrays.append(f"%(c{index})b::{column_type.compile(dialect=connection.dialect)}[]")
    names = ", ".join(f'"{name}"' for name in rows[0])
    return names, f"unnest({', '.join(arrays)}) AS i ({names})", params


def execute_unnested(connection: Connection, statement: str, params: dict[str, list[Any]]) -> None:
    """Runs a statement of `unnested` rows on the driver, which sends their arrays in
    binary (`%(name)b`): in text, every element would be escaped and quoted, one by one,
    in Python."""
    driver_connection(connection).execute(statement, params)


def outbox_row(event: Event, request_id: str | None) -> dict[str, Any]:
    """The outbox row of an event, published by the relay with the request id it came from."""
    return {
        "id": event.id,
        "type": event.type,
        "body": event.to_message(),
        "request_id": request_id,
        "created_at": event.occurred_at,
    }


def insert_if_absent(connection: Connection, table: Table, row: dict[str, Any]) -> bool:
    """Inserts one row unless its key exists; True when it was inserted. Cheaper than
    insert_ignoring_duplicates for a single row: one statement, not a batch."""
    statement = (
        conflict_aware_insert(connection, table)
        .on_conflict_do_nothing()
        .returning(*table.primary_key.columns)
    )
    return connection.execute(statement, row).first() is not None


def upsert(connection: Connection, table: Table, row: dict[str, Any]) -> None:
    """Inserts a row, or updates the one with its key to the row's other values."""
    statement = conflict_aware_insert(connection, table)
    keys = [column.name for column in table.primary_key.columns]
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=keys,
            set_={name: statement.excluded[name] for name in row if name not in keys},
        ),
        row,
    )


PING_IDLE_SECONDS = 5.0
_IDLE_SINCE = "idle_since"


class UnitOfWork:
    """One transaction of one use case; the events it emits are stored with its data.

    Events land in the outbox table in the same transaction as the change they
    describe, so a change is never committed without its events, nor the reverse.
    """

    def __init__(
        self,
        engine: Engine,
        metadata: MetaData,
        after_commit: Callable[[list[OutgoingMessage]], None] = lambda messages: None,
        read_only: bool = False,
    ) -> None:
        self._engine = engine
        self._after_commit = after_commit
        self._read_only = read_only
        self._outbox = metadata.tables["outbox"]
        self._processed = metadata.tables["processed_events"]
        self.events: list[Event] = []

    def __enter__(self) -> UnitOfWork:
        self.connection = self._engine.connect()
        self.events = []
        if not self._read_only:
            self._transaction = self.connection.begin()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(error, psycopg.Error) and lost_connection(error):
            self._forget_connections()
        elif not self._read_only and self._transaction.is_active:
            self._transaction.rollback()
        self.connection.close()

    def _forget_connections(self) -> None:
        """After the driver's own statement met a broken connection, which SQLAlchemy did
        not see: that connection is discarded and the pool replaced, as SQLAlchemy does
        on a disconnect it sees, since the server went away for every connection."""
        self.connection.invalidate()
        self._engine.dispose(close=False)

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def claim(self, event: Event) -> bool:
        """Records that this consumer handles `event`; False when it already did."""
        row = {"id": event.id, "processed_at": datetime.now(UTC)}
        return insert_if_absent(self.connection, self._processed, row)

    def commit(self) -> None:
        if self._read_only:
            raise RuntimeError("a read-only unit of work has nothing to commit")
        rows = [outbox_row(event, current_request_id()) for event in self.events]
        insert_rows(self.connection, self._outbox, rows)
        try:
            self._transaction.commit()
        except DBAPIError as error:
            if error.connection_invalidated:
                # Whether the server committed before the connection broke is unknown:
                # the call must not be run again blindly (see faults.lost_connection).
                raise CommitOutcomeUnknown() from error
            raise
        self._after_commit([OutgoingMessage(r["id"], r["type"], r["body"], r["request_id"]) for r in rows])
