"""Marketplace's tables: the ledger's accounts and transfers, and the idempotency
records of money-moving calls, beside the outbox and inbox every service keeps."""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, String, Table, Text, UniqueConstraint

from services.kit.db import UtcDateTime, new_metadata

metadata = new_metadata()

ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner", String(36), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("debits_posted", BigInteger, nullable=False),
    Column("credits_posted", BigInteger, nullable=False),
    Column("debits_pending", BigInteger, nullable=False),
    Column("credits_pending", BigInteger, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("owner", "kind", "currency", name="uq_ledger_accounts_owner_kind_currency"),
    # The database refuses what the code must never do, should the code ever try.
    CheckConstraint(
        "debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0 AND credits_pending >= 0",
        name="totals_not_negative",
    ),
    CheckConstraint(
        "kind = 'external' OR debits_posted + debits_pending <= credits_posted",
        name="not_overdrawn",
    ),
)

ledger_transfers = Table(
    "ledger_transfers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("debit_account_id", String(36), nullable=False),
    Column("credit_account_id", String(36), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("code", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    # A pending transfer is resolved (posted or voided) once: by one row naming it.
    Column("pending_id", String(36), unique=True),
    Column("batch_id", String(36)),
    Column("order_id", String(36)),
    CheckConstraint("amount > 0", name="amount_positive"),
    Index("ix_ledger_transfers_debit_account", "debit_account_id", "created_at"),
    Index("ix_ledger_transfers_credit_account", "credit_account_id", "created_at"),
)

# Money-moving calls remembered by their idempotency key, with Stripe's semantics.
idempotency_records = Table(
    "idempotency_records",
    metadata,
    Column("scope", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("result", Text),
    Column("created_at", UtcDateTime(), nullable=False, index=True),
)
