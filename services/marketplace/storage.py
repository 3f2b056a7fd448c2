"""Marketplace's tables: listings, RFQs and quotes, orders; the ledger's accounts and
transfers; the idempotency records of money-moving calls; the directory of registered
companies and the capacity analytics measured of their devices; beside the outbox and inbox every service keeps."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

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

# What sellers offer: a manufacturing capability, machine-hours of one of their devices
# (booked by slot), or a product with stock. Prices are integer minor units.
listings = Table(
    "listings",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("seller_id", String(36), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("category", String(32), nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("unit", String(8), nullable=False),
    Column("min_order_quantity", Integer, nullable=False),
    Column("lead_time_days", Integer, nullable=False),
    Column("ship_from", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    # The registered device whose machine-hours a capacity listing sells.
    Column("device_id", String(36)),
    # What a product listing has left to sell; decremented only while enough remains.
    Column("stock", BigInteger),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    CheckConstraint("price > 0", name="price_positive"),
    CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
    CheckConstraint("min_order_quantity > 0", name="min_order_positive"),
    Index("ix_listings_search", "status", "category", "kind", "price", "id"),
    Index("ix_listings_seller", "seller_id", "created_at", "id"),
)

# A capacity listing's bookable hours: a slot is free while order_id is NULL, and is
# booked by setting it only where it is still NULL, so two orders never get one slot.
capacity_slots = Table(
    "capacity_slots",
    metadata,
    Column("listing_id", String(36), ForeignKey("listings.id"), primary_key=True),
    Column("starts_at", UtcDateTime(), primary_key=True),
    Column("ends_at", UtcDateTime(), nullable=False),
    Column("order_id", String(36), index=True),
)

rfqs = Table(
    "rfqs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("buyer_id", String(36), nullable=False),
    Column("category", String(32), nullable=False),
    Column("title", String(200), nullable=False),
    Column("specification", Text, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("unit", String(8), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("deadline", UtcDateTime(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    Index("ix_rfqs_open", "status", "category", "deadline", "id"),
    Index("ix_rfqs_buyer", "buyer_id", "created_at", "id"),
)

quotes = Table(
    "quotes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("rfq_id", String(36), ForeignKey("rfqs.id"), nullable=False, index=True),
    Column("seller_id", String(36), nullable=False),
    # The whole price for the RFQ's quantity, in the RFQ's currency.
    Column("price", BigInteger, nullable=False),
    Column("lead_time_days", Integer, nullable=False),
    Column("valid_until", UtcDateTime(), nullable=False),
    Column("note", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    CheckConstraint("price > 0", name="price_positive"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("buyer_id", String(36), nullable=False),
    Column("seller_id", String(36), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("quote_id", String(36), unique=True),
    # The pending transfer holding the buyer's money in escrow, once funded.
    Column("escrow_transfer_id", String(36)),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    CheckConstraint("total > 0 AND fee >= 0 AND fee <= total", name="amounts"),
    Index("ix_orders_buyer", "buyer_id", "created_at", "id"),
    Index("ix_orders_seller", "seller_id", "created_at", "id"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("order_id", String(36), ForeignKey("orders.id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("listing_id", String(36)),
    Column("description", String(200), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("unit_price", BigInteger, nullable=False),
    Column("amount", BigInteger, nullable=False),
    CheckConstraint("quantity > 0 AND unit_price > 0 AND amount > 0", name="positive"),
)

# Every change of an order's state: who, when and why.
order_transitions = Table(
    "order_transitions",
    metadata,
    Column("order_id", String(36), ForeignKey("orders.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("from_state", String(16)),
    Column("to_state", String(16), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    # The platform's figures count completions by day.
    Index("ix_order_transitions_to_state_at", "to_state", "at"),
)

# The companies registered on the platform, learnt from the registry's tenant.created
# events, for the platform's figures.
companies = Table(
    "companies",
    metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("country", String(2), nullable=False),
    Column("registered_at", UtcDateTime(), nullable=False),
)

# The newest measurement analytics published (capacity.measured) of each device, with the
# tenant it measured the device for: a capacity listing shows it only to its own seller's.
measured_capacity = Table(
    "measured_capacity",
    metadata,
    Column("device_id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("measured_at", UtcDateTime(), nullable=False),
    Column("period_start", UtcDateTime(), nullable=False),
    Column("period_end", UtcDateTime(), nullable=False),
    Column("utilisation", Float, nullable=False),
    Column("idle_hours_per_week", Float, nullable=False),
    # Null when undefined: no production plan (oee), no failure in the period (mtbf).
    Column("oee", Float),
    Column("mtbf_seconds", Float),
    # The site's IANA zone, in which measured_hours counts the hours of the week.
    Column("zone", String(64), nullable=False, server_default="UTC"),
)

# The idle seconds of each hour of the week (weekday 0 = Monday, in the measurement's
# zone) of the measurement kept in measured_capacity, replaced with it: what a capacity
# listing's free slots of the coming week may be expected to stand idle.
measured_hours = Table(
    "measured_hours",
    metadata,
    Column("device_id", String(36), primary_key=True),
    Column("weekday", SmallInteger, primary_key=True),
    Column("hour", SmallInteger, primary_key=True),
    Column("idle_seconds", Float, nullable=False),
)

# Each UTC hour of the coming weeks with its weekday and hour in a zone measurements are
# counted in, kept ahead as measurements arrive: the calendar that lets one SQL statement
# find the hour of the week of a slot, on every backend, however the zone shifts its clocks.
zone_hours = Table(
    "zone_hours",
    metadata,
    Column("zone", String(64), primary_key=True),
    Column("starts_at", UtcDateTime(), primary_key=True),
    Column("weekday", SmallInteger, nullable=False),
    Column("hour", SmallInteger, nullable=False),
)

# What analytics measured of the machine in each booked slot of a capacity order once
# the slot ended (capacity.slot_evidence): the evidence an operator weighs in a dispute.
order_slot_evidence = Table(
    "order_slot_evidence",
    metadata,
    Column("order_id", String(36), ForeignKey("orders.id"), primary_key=True),
    Column("starts_at", UtcDateTime(), primary_key=True),
    Column("ends_at", UtcDateTime(), nullable=False),
    # ran, idle, down or not_measured
    Column("verdict", String(16), nullable=False),
    Column("producing_seconds", Float, nullable=False),
    Column("setup_seconds", Float, nullable=False),
    Column("idle_seconds", Float, nullable=False),
    Column("down_seconds", Float, nullable=False),
    Column("parts", Float, nullable=False),
    Column("good_parts", Float, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("measured_at", UtcDateTime(), nullable=False),
)
