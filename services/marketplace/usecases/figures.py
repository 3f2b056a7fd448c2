"""The platform's figures as its operator reports them: companies registered (learnt from
the registry's tenant events) and orders completed, per currency, in total and per day."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from services.kit.errors import FieldViolation, InvalidArgument
from services.kit.events import Event
from services.marketplace.queries import figures as sql
from services.marketplace.usecases import Clock, UnitOfWorkFactory, utc_now

COMPANY_EVENTS = ("tenant.created", "tenant.updated")
DEFAULT_DAYS = 30
MAX_DAYS = 366
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


@dataclass(frozen=True)
class CurrencyFigures:
    currency: str
    completed_orders: int
    # The completed orders' totals, fees included, in minor units.
    amount: int


@dataclass(frozen=True)
class DayFigures:
    day: date
    currencies: list[CurrencyFigures]


@dataclass(frozen=True)
class PlatformStats:
    registered_companies: int
    companies_abroad: int
    home_country: str
    totals: list[CurrencyFigures]
    days: list[DayFigures]
    from_day: date
    to_day: date


class PlatformFigures:
    def __init__(
        self, unit_of_work: UnitOfWorkFactory, clock: Clock = utc_now, home_country: str = "CN"
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._home_country = home_country

    def learn(self, event: Event) -> bool:
        """Keeps the directory of companies in step with a tenant event; False when the
        event was already handled."""
        with self._unit_of_work() as uow:
            if not uow.claim(event):
                return False
            country = event.data["country"]
            # A change may be the first the marketplace hears of a tenant.
            sql.add_company(uow.connection, event.tenant_id, country, event.occurred_at)
            if event.type == "tenant.updated":
                sql.set_country(uow.connection, event.tenant_id, country)
            uow.commit()
        return True

    def report(self, from_day: str = "", to_day: str = "") -> PlatformStats:
        """The figures with the completions of the UTC days [from_day, to_day]."""
        first, last = self._period(from_day, to_day)
        since = datetime.combine(first, time(), UTC)
        until = datetime.combine(last + timedelta(days=1), time(), UTC)
        with self._unit_of_work(read_only=True) as uow:
            registered, abroad = sql.company_counts(uow.connection, self._home_country)
            totals = [CurrencyFigures(*row) for row in sql.completed_by_currency(uow.connection)]
            by_day = sql.completed_by_day(uow.connection, since, until)
        days: dict[date, list[CurrencyFigures]] = {}
        for day, *figures in by_day:
            days.setdefault(day, []).append(CurrencyFigures(*figures))
        return PlatformStats(
            registered,
            abroad,
            self._home_country,
            totals,
            [DayFigures(day, currencies) for day, currencies in days.items()],
            first,
            last,
        )

    def _period(self, from_day: str, to_day: str) -> tuple[date, date]:
        last = _day(to_day, "to_day") if to_day else self._clock().astimezone(UTC).date()
        first = _day(from_day, "from_day") if from_day else last - timedelta(days=DEFAULT_DAYS - 1)
        if first > last:
            raise InvalidArgument([FieldViolation("to_day", "must not be before from_day")])
        if (last - first).days >= MAX_DAYS:
            raise InvalidArgument([FieldViolation("to_day", f"at most {MAX_DAYS} days after from_day")])
        return first, last


def _day(value: str, field: str) -> date:
    problem = InvalidArgument([FieldViolation(field, "a day as YYYY-MM-DD")])
    if not _DAY.match(value):
        raise problem
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise problem from None
