"""`gantry ledger check`: does the marketplace's ledger balance? The check of
`python -m services.marketplace.check_ledger`, on the marketplace's database."""

from __future__ import annotations

import argparse

from sqlalchemy.exc import SQLAlchemyError

from services.cli.output import CliError, Exit, Outcome, Table
from services.kit.db import make_engine
from services.kit.settings import database_url
from services.marketplace.queries.ledger import net_by_currency


def register(commands: argparse._SubParsersAction) -> None:
    ledger = commands.add_parser("ledger", help="the marketplace's ledger")
    actions = ledger.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check",
        help="per currency, whether debits equal credits, posted and pending",
        description="Sums every account's debits less credits per currency, posted and pending; "
        "exits 1 when any currency does not sum to zero. Reads GANTRY_MARKETPLACE_DATABASE_URL.",
    )
    check.set_defaults(run=run_check)


def run_check(_: argparse.Namespace) -> Outcome:
    engine = make_engine(database_url("marketplace"), autocommit=True)
    try:
        with engine.connect() as connection:
            sums = net_by_currency(connection)
    except SQLAlchemyError as error:
        raise CliError(
            Exit.UNREACHABLE, f"the marketplace's database did not answer: {error.orig or error}"
        ) from error
    finally:
        engine.dispose()
    rows = [
        {"currency": currency, "posted": posted, "pending": pending, "balanced": (posted, pending) == (0, 0)}
        for currency, (posted, pending) in sorted(sums.items())
    ]
    balanced = all(row["balanced"] for row in rows)
    verdict = "balanced" if balanced else "IMBALANCED"
    return Outcome(
        {"balanced": balanced, "currencies": rows},
        [Table(("currency", "posted", "pending", "balanced"), rows, "DEBITS LESS CREDITS")],
        verdict,
        Exit.OK if balanced else Exit.PROBLEM,
    )
