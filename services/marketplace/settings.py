"""The marketplace's own settings, read when asked for."""

from __future__ import annotations

from services.kit.settings import env
from services.marketplace.usecases.orders import DEFAULT_FEE_BPS


def fee_bps() -> int:
    """The platform's fee in basis points of an order's total (GANTRY_MARKETPLACE_FEE_BPS)."""
    return int(env("MARKETPLACE_FEE_BPS", str(DEFAULT_FEE_BPS)))


def home_country() -> str:
    """Companies of other countries are abroad (GANTRY_HOME_COUNTRY, ISO 3166-1 alpha-2)."""
    return env("HOME_COUNTRY", "CN").upper()
