"""SQL of the idempotency records: keys claimed, results kept, records forgotten."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, select, tuple_, update

from services.kit.db import driver_connection, insert_if_absent, insert_ignoring_duplicates
from services.marketplace.storage import idempotency_records as records

# A claim: (scope, key, request hash).
ClaimKey = tuple[str, str, str]

# Many claims in one statement on PostgreSQL, straight through the driver: arrays, not
# one row per parameter set. Inserted in the order given. The claims are prepared (an
# insert's plan does not depend on the table's size); the results' update, which joins
# the table with the arrays, is planned at each execution (see queries/ledger.py).
_CLAIM_PG = """
INSERT INTO idempotency_records (scope, key, request_hash, created_at)
SELECT scope, key, request_hash, %(now)s
FROM unnest(%(scopes)b::text[], %(keys)b::text[], %(hashes)b::text[]) WITH ORDINALITY
    AS c(scope, key, request_hash, position)
ORDER BY position
ON CONFLICT DO NOTHING
RETURNING scope, key"""
_RECORD_PG = """
UPDATE idempotency_records AS r SET result = c.result
FROM unnest(%(scopes)b::text[], %(keys)b::text[], %(hashes)b::text[], %(results)b::text[])
    AS c(scope, key, request_hash, result)
WHERE r.scope = c.scope AND r.key = c.key"""


def _row(claim: ClaimKey, now: datetime) -> dict[str, Any]:
    scope, key, request_hash = claim
    return {"scope": scope, "key": key, "request_hash": request_hash, "result": None, "created_at": now}


def claim_one(connection: Connection, claim: ClaimKey, now: datetime) -> bool:
    """Takes one key; False when it was taken first."""
    return insert_if_absent(connection, records, _row(claim, now))


def claim_in_order(connection: Connection, claims: Sequence[ClaimKey], now: datetime) -> set[tuple[str, str]]:
    """The (scope, key) of the claims taken here, inserted in the order given."""
    if connection.dialect.name == "postgresql":
        params = {**_columns(claims), "now": now}
        return set(driver_connection(connection).execute(_CLAIM_PG, params, prepare=True))
    wanted = [(scope, key) for scope, key, _ in claims]
    if insert_ignoring_duplicates(connection, records, [_row(claim, now) for claim in claims]) == len(claims):
        return set(wanted)
    # A record has no result only until the transaction of its claim ends: those seen
    # without one are this transaction's.
    keys = tuple_(records.c.scope, records.c.key)
    query = select(records.c.scope, records.c.key).where(keys.in_(wanted), records.c.result.is_(None))
    return set(connection.execute(query).tuples())


def first_request(connection: Connection, scope: str, key: str) -> Row:
    """The request hash and the result kept for a key."""
    query = select(records.c.request_hash, records.c.result).where(
        records.c.scope == scope, records.c.key == key
    )
    return connection.execute(query).one()


def keep_results(connection: Connection, results: Sequence[tuple[ClaimKey, str]]) -> None:
    """Keeps each claimed request's encoded result."""
    if connection.dialect.name == "postgresql":
        params = {**_columns([claim for claim, _ in results]), "results": [result for _, result in results]}
        driver_connection(connection).execute(_RECORD_PG, params, prepare=False)
        return
    connection.execute(
        update(records)
        .where(records.c.scope == bindparam("claim_scope"), records.c.key == bindparam("claim_key"))
        .values(result=bindparam("encoded")),
        [{"claim_scope": scope, "claim_key": key, "encoded": result} for (scope, key, _), result in results],
    )


def free(connection: Connection, keys: Sequence[tuple[str, str]]) -> None:
    if keys:
        connection.execute(delete(records).where(tuple_(records.c.scope, records.c.key).in_(list(keys))))


def forget_older_than(connection: Connection, cutoff: datetime) -> int:
    return connection.execute(delete(records).where(records.c.created_at < cutoff)).rowcount


def _columns(claims: Sequence[ClaimKey]) -> dict[str, list[str]]:
    return {
        "scopes": [scope for scope, _, _ in claims],
        "keys": [key for _, key, _ in claims],
        "hashes": [request_hash for _, _, request_hash in claims],
    }
