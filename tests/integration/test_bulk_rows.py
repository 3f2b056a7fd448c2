"""The kit's bulk writes and set membership answer the same on PostgreSQL (COPY through a
temporary table, `= ANY` of an array) and on SQLite (a statement per row, an IN list)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import JSON, Column, Engine, Integer, MetaData, String, Table, select

from services.kit.bulk_rows import one_of, update_rows, upsert_rows
from services.kit.db import make_engine
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


def test_a_session_whose_transaction_rolled_back_makes_its_temporary_table_again(engine: Engine) -> None:
    for _ in range(2):
        with engine.connect() as connection:
            upsert_rows(connection, machines, ROWS[:1])
            # Closed without a commit: rolled back, the temporary table with it.
    with engine.begin() as connection:
        upsert_rows(connection, machines, ROWS[1:])
    assert _stored(engine) == ROWS[1:]
