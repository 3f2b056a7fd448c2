"""Money-moving calls run once per idempotency key, with Stripe's semantics: the same
key with the same request answers the first result again, even when the two arrive
together; the same key with another request is refused.

The key is claimed in the transaction that moves the money: a second request with
the key waits on the first's claim, then finds its committed result, or, if the
first rolled back, runs itself. Records are kept at least KEEP.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import orjson
from sqlalchemy import Connection, delete, select, update

from services.kit.db import insert_if_absent
from services.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument
from services.marketplace.storage import idempotency_records as records

KEEP = timedelta(hours=48)
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")

Result = TypeVar("Result")


class KeyReused(FailedPrecondition):
    """An idempotency key already used with another request."""


def require_key(key: str) -> str:
    if not _VALID_KEY.match(key):
        raise InvalidArgument([FieldViolation("idempotency_key", "1 to 255 visible ASCII characters")])
    return key


def request_hash(request: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS)).hexdigest()


def once(
    connection: Connection,
    scope: str,
    key: str,
    request: dict[str, Any],
    now: datetime,
    run: Callable[[], Result],
    encode: Callable[[Result], Any],
    decode: Callable[[Any], Result],
) -> tuple[Result, bool]:
    """`run()`'s result, or the result of the first request with this key; True when
    `run` ran (the caller then commits), False when the result is replayed."""
    digest = request_hash(request)
    row = {"scope": scope, "key": require_key(key), "request_hash": digest, "result": None, "created_at": now}
    if not insert_if_absent(connection, records, row):
        found = connection.execute(
            select(records.c.request_hash, records.c.result).where(
                records.c.scope == scope, records.c.key == key
            )
        ).one()
        if found.request_hash != digest:
            raise KeyReused("this idempotency key was used with another request")
        return decode(orjson.loads(found.result)), False
    result = run()
    connection.execute(
        update(records)
        .where(records.c.scope == scope, records.c.key == key)
        .values(result=orjson.dumps(encode(result)).decode())
    )
    return result, True


def forget_older_than(connection: Connection, cutoff: datetime) -> int:
    return connection.execute(delete(records).where(records.c.created_at < cutoff)).rowcount
