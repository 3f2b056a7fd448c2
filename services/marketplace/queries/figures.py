"""The platform figures' SQL: companies registered, orders completed by currency and day."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ColumnElement, Connection, Date, cast, func, select, update

from services.kit.db import insert_if_absent
from services.marketplace.domain.orders import OrderState
from services.marketplace.storage import companies, order_transitions, orders


def add_company(connection: Connection, tenant_id: str, country: str, registered_at: datetime) -> None:
    insert_if_absent(
        connection, companies, {"tenant_id": tenant_id, "country": country, "registered_at": registered_at}
    )


def company_counts(connection: Connection, home_country: str) -> tuple[int, int]:
    """Companies registered, and those of them abroad."""
    abroad = func.count().filter(companies.c.country != home_country)
    registered, away = connection.execute(select(func.count(), abroad)).one()
    return registered, away


_COMPLETED = order_transitions.c.to_state == OrderState.COMPLETED.value


def completed_by_currency(connection: Connection) -> list[tuple[str, int, int]]:
    """(currency, orders, amount) of every order ever completed."""
    query = (
        select(orders.c.currency, func.count(), func.sum(orders.c.total))
        .select_from(order_transitions.join(orders, orders.c.id == order_transitions.c.order_id))
        .where(_COMPLETED)
        .group_by(orders.c.currency)
        .order_by(orders.c.currency)
    )
    return [(currency, count, int(amount)) for currency, count, amount in connection.execute(query)]


def completed_by_day(
    connection: Connection, since: datetime, until: datetime
) -> list[tuple[date, str, int, int]]:
    """(UTC day, currency, orders, amount) of the orders completed in [since, until)."""
    day = _utc_day(connection).label("day")
    query = (
        select(day, orders.c.currency, func.count(), func.sum(orders.c.total))
        .select_from(order_transitions.join(orders, orders.c.id == order_transitions.c.order_id))
        .where(_COMPLETED, order_transitions.c.at >= since, order_transitions.c.at < until)
        .group_by(day, orders.c.currency)
        .order_by(day, orders.c.currency)
    )
    return [
        (_as_date(d), currency, count, int(amount))
        for d, currency, count, amount in connection.execute(query)
    ]


def _utc_day(connection: Connection) -> ColumnElement:
    at = order_transitions.c.at
    if connection.dialect.name == "postgresql":
        # The session's time zone would decide the day otherwise.
        return cast(func.timezone("UTC", at), Date)
    # SQLite keeps UTC timestamps as text that starts with the day.
    return func.substr(at, 1, 10)


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def set_country(connection: Connection, tenant_id: str, country: str) -> None:
    connection.execute(update(companies).where(companies.c.tenant_id == tenant_id).values(country=country))
