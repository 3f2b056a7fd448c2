"""The kit's bulk writes and set membership answer the same on PostgreSQL (a statement of
array parameters, `= ANY` of an array) and on SQLite (a statement per row, an IN list)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import JSON, Column, Engine, Integer, LargeBinary, MetaData, String, Table, select

from services.kit.bulk_rows import one_of, update_rows, upsert_rows
from services.kit.db import UtcDateTime, insert_rows, make_engine, pipelined
from tests.support.backends import postgres_database

metadata = MetaData()
machines = Table(
    "machines",
    metadata,
    Column("site", String(16), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("name", String(64), nullable=False),
    Column("settings", JSON, nullable=False),
)
ROWS = [
    {"site": "a", "number": 1, "name": "mill", "settings": {"rpm": 1200}},
    {"site": "a", "number": 2, "name": "lathe", "settings": {}},
    {"site": "b", "number": 1, "name": "press", "settings": {"tons": [40, 80]}},
]


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgresql":
        with postgres_database() as url:
            yield from _created(url)
    else:
        yield from _created(f"sqlite:///{tmp_path / 'bulk.db'}")


def _created(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    metadata.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def _stored(engine: Engine) -> list[dict]:
    with engine.connect() as connection:
        query = select(machines).order_by(machines.c.site, machines.c.number)
        return [dict(row) for row in connection.execute(query).mappings()]


def test_upserted_rows_are_inserted_then_overwritten_by_their_whole_key(engine: Engine) -> None:
    with engine.begin() as connection:
        upsert_rows(connection, machines, ROWS[:2])
    with engine.begin() as connection:
        upsert_rows(connection, machines, [{**ROWS[1], "name": "big lathe"}, ROWS[2]])
    assert _stored(engine) == [ROWS[0], {**ROWS[1], "name": "big lathe"}, ROWS[2]]


def test_updated_rows_change_only_the_rows_of_their_keys(engine: Engine) -> None:
    with engine.begin() as connection:
        upsert_rows(connection, machines, ROWS)
        update_rows(connection, machines, [{**ROWS[2], "settings": {"tons": [100]}}])
        # A key no row has changes nothing and adds nothing.
        update_rows(connection, machines, [{**ROWS[0], "number": 9}])
    assert _stored(engine) == [ROWS[0], ROWS[1], {**ROWS[2], "settings": {"tons": [100]}}]


def test_rows_written_in_a_transaction_that_rolls_back_are_not_kept(engine: Engine) -> None:
    with pytest.raises(RuntimeError), engine.begin() as connection:
        upsert_rows(connection, machines, ROWS)
        raise RuntimeError("the flush failed")
    with engine.begin() as connection:
        upsert_rows(connection, machines, ROWS[:1])
    assert _stored(engine) == ROWS[:1]


def test_one_of_matches_exactly_the_values_given(engine: Engine) -> None:
    with engine.begin() as connection:
        upsert_rows(connection, machines, ROWS)
    with engine.connect() as connection:
        for names in (["mill", "press"], ["lathe"], ["nothing"], []):
            query = select(machines.c.name).where(one_of(connection, machines.c.name, names))
            assert sorted(connection.execute(query).scalars()) == sorted(set(names) - {"nothing"})


def test_added_columns_are_summed_and_the_others_overwritten(engine: Engine) -> None:
    counters = Table(
        "counters",
        MetaData(),
        Column("machine", String(16), primary_key=True),
        Column("parts", Integer, nullable=False),
        Column("label", String(16), nullable=False),
    )
    counters.create(engine)
    with engine.begin() as connection:
        upsert_rows(connection, counters, [{"machine": "m1", "parts": 3, "label": "a"}], added={"parts"})
        upsert_rows(
            connection,
            counters,
            [{"machine": "m2", "parts": 1, "label": "x"}, {"machine": "m1", "parts": 4, "label": "b"}],
            added={"parts"},
        )
    with engine.connect() as connection:
        stored = connection.execute(select(counters).order_by(counters.c.machine)).all()
    assert [tuple(row) for row in stored] == [("m1", 7, "b"), ("m2", 1, "x")]


def test_rows_written_in_one_pipeline_are_all_kept(engine: Engine) -> None:
    with engine.begin() as connection, pipelined(connection):
        insert_rows(connection, machines, ROWS[:1])
        upsert_rows(connection, machines, ROWS[1:])
        update_rows(connection, machines, [{**ROWS[0], "name": "old mill"}])
    assert _stored(engine) == [{**ROWS[0], "name": "old mill"}, *ROWS[1:]]


def test_values_an_array_literal_would_trip_on_are_written_as_they_are(engine: Engine) -> None:
    kinds = Table(
        "kinds",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("text", String(64)),
        Column("blob", LargeBinary),
        Column("at", UtcDateTime),
        Column("data", JSON),
    )
    kinds.create(engine)
    hostile = ['{a,"b"}', "NULL", "", "back\\slash", "quote ' \"", "机床 ☃", None]
    rows = [
        {
            "id": index,
            "text": text,
            "blob": None if text is None else text.encode(),
            "at": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=index),
            "data": {"text": text, "list": [text, {"nested": "}"}]},
        }
        for index, text in enumerate(hostile)
    ]
    with engine.begin() as connection:
        insert_rows(connection, kinds, rows[:3])
        upsert_rows(connection, kinds, rows[2:])
        update_rows(connection, kinds, [{**rows[0], "data": {"text": "{}"}}])
    with engine.connect() as connection:
        stored = [dict(row) for row in connection.execute(select(kinds).order_by(kinds.c.id)).mappings()]
    assert stored == [{**rows[0], "data": {"text": "{}"}}, *rows[1:]]
