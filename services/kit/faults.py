"""Which failures say nothing about the work that met them, and how long to wait before trying again.

A message that fails because the database is down, restarting, locked or overloaded
is as good as it was: it is retried for as long as that lasts and never dead-lettered.
Only a failure caused by the message itself (its data refused by a constraint or a
type, a contract it breaks) may end its retries.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from sqlalchemy import exc

from services.kit.errors import Unavailable

# SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation): the
# statement's data is at fault, and sending it again changes nothing. The driver's own
# classes too, for the statements that bypass SQLAlchemy (COPY).
_DATA_ERRORS = (exc.DataError, exc.IntegrityError, psycopg.DataError, psycopg.IntegrityError)
_DATABASE_ERRORS = (exc.DBAPIError, psycopg.Error)

BACKOFF_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0)
# SQLSTATEs of a connection the server ended or lost (classes 08 and 57P: a shutdown, a
# restart, a terminated backend); a closed connection has none.
_CONNECTION_LOST = ("08", "57P")


def is_transient(error: BaseException) -> bool:
    """Whether `error` came from the database or the bus rather than from the work:
    a lost or refused connection, a restart, a lock or statement timeout, a full disk,
    an exhausted pool, a missing table or privilege (a deployment not finished yet)."""
    if isinstance(error, Unavailable | exc.TimeoutError):
        return True
    return isinstance(error, _DATABASE_ERRORS) and not refuses_data(error)


def refuses_data(error: BaseException) -> bool:
    """Whether the database refused the data of the statement that raised `error`."""
    return isinstance(error, _DATA_ERRORS)


def backoff(attempt: int, steps: Sequence[float] = BACKOFF_SECONDS) -> float:
    """The wait before retry number `attempt` (from 0), growing to the last step."""
    return steps[min(attempt, len(steps) - 1)]


def lost_connection(error: BaseException) -> bool:
    """Whether `error` is a statement that met a broken database connection before any
    commit: nothing was changed, and the pool has replaced its connections, so the same
    work may run again at once. A broken commit is `CommitOutcomeUnknown` instead."""
    if isinstance(error, exc.DBAPIError):
        return error.connection_invalidated
    # A statement sent straight through the driver (prepared statements, COPY): its
    # error is the driver's own, and SQLAlchemy never saw it.
    return isinstance(error, psycopg.OperationalError) and (
        error.sqlstate is None or error.sqlstate.startswith(_CONNECTION_LOST)
    )
