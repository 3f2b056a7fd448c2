"""Checks that the ledger balances: per currency, the debits of all accounts equal their
credits, posted and pending. Prints each currency's totals; exits 1 on any imbalance.

Usage: python -m services.marketplace.check_ledger
"""

from __future__ import annotations

import sys

from services.kit import settings
from services.kit.db import make_engine
from services.marketplace.queries.ledger import net_by_currency


def main() -> int:
    engine = make_engine(settings.database_url("marketplace"), autocommit=True)
    try:
        with engine.connect() as connection:
            sums = net_by_currency(connection)
    finally:
        engine.dispose()
    for currency, (posted, pending) in sorted(sums.items()):
        verdict = "balanced" if (posted, pending) == (0, 0) else "IMBALANCED"
        print(f"{currency}: debits less credits posted {posted}, pending {pending}: {verdict}")
    if not sums:
        print("no accounts yet")
    return 0 if all(net == (0, 0) for net in sums.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
