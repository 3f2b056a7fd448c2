"""Statements that run thousands of times against tables that grow from nothing keep
reading through their indexes: analytics-evaluator's lookup of the alarms a flush moves,
and engines that plan each execution for the tables as they are (see db.make_engine)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, event, text

from services.analytics.queries.alarms import alarms_moved
from services.kit.db import make_engine
from services.kit.migrate import upgrade
from tests.support.backends import postgres_database

ALARMS = 20_000
ACTIVE_PER_DEVICE = 1


@pytest.fixture
def analytics_url() -> Iterator[str]:
    with postgres_database() as url:
        upgrade("analytics", url)
        yield url


def test_an_engine_with_custom_plans_plans_every_execution_anew(analytics_url: str) -> None:
    for custom_plans, mode in ((True, "force_custom_plan"), (False, "auto")):
        engine = make_engine(analytics_url, custom_plans=custom_plans)
        with engine.connect() as connection:
            assert connection.execute(text("SHOW plan_cache_mode")).scalar_one() == mode
        engine.dispose()


def test_the_alarms_a_flush_moves_are_found_through_indexes_however_many_there_are(
    analytics_url: str,
) -> None:
    engine = make_engine(analytics_url, custom_plans=True)
    devices = [str(uuid.uuid4()) for _ in range(1000)]
    rule = str(uuid.uuid4())
    with engine.begin() as connection:
        _insert_alarms(connection, devices, rule)
    with engine.begin() as connection:
        named = list(connection.execute(text("SELECT id FROM alarms WHERE active LIMIT 50")).scalars())
        for ids, pairs in ((named, []), ([], [(device, rule) for device in devices[:50]])):
            statement, parameters = _statement_of(connection, alarms_moved, ids, pairs)
            plan = "\n".join(connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).scalars())
            assert "Seq Scan" not in plan
            assert "pk_alarms" in plan or "uq_alarms_active_device_rule" in plan
    engine.dispose()


def _insert_alarms(connection: Connection, devices: list[str], rule: str) -> None:
    """ALARMS alarms of one rule over the devices, the newest of each device's active."""
    connection.execute(
        text(
            "INSERT INTO alarms (id, tenant_id, device_id, rule_id, rule_version, name, severity,"
            " active, acknowledged, started_at, updated_at, raised_by, severity_history, comments,"
            " cleared_by, acknowledged_by)"
            " SELECT gen_random_uuid()::text, 't', (CAST(:devices AS text[]))[1 + i % :count], :rule, 1,"
            " 'hot', 3, i >= :alarms - :count, false, now(), now(), '{}', '[]', '[]', '', ''"
            " FROM generate_series(0, :alarms - 1) AS i"
        ),
        {"devices": devices, "count": len(devices), "rule": rule, "alarms": ALARMS},
    )


def _statement_of(connection: Connection, query: Any, *arguments: Any) -> tuple[str, Any]:
    """The one statement `query(connection, *arguments)` runs, and its parameters."""
    seen: list[tuple[str, Any]] = []

    def note(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", note)
    try:
        query(connection, *arguments)
    finally:
        event.remove(connection, "before_cursor_execute", note)
    [only] = seen
    return only
