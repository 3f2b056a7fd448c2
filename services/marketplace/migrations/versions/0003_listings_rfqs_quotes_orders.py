"""listings rfqs quotes orders

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 19:54:19.981200
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('listings',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('seller_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('price', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('unit', sa.String(length=8), nullable=False),
    sa.Column('min_order_quantity', sa.Integer(), nullable=False),
    sa.Column('lead_time_days', sa.Integer(), nullable=False),
    sa.Column('ship_from', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('device_id', sa.String(length=36), nullable=True),
    sa.Column('stock', sa.BigInteger(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('min_order_quantity > 0', name=op.f('ck_listings_min_order_positive')),
    sa.CheckConstraint('price > 0', name=op.f('ck_listings_price_positive')),
    sa.CheckConstraint('stock IS NULL OR stock >= 0', name=op.f('ck_listings_stock_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_listings'))
    )
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.create_index('ix_listings_search', ['status', 'category', 'kind', 'price', 'id'], unique=False)
        batch_op.create_index('ix_listings_seller', ['seller_id', 'created_at', 'id'], unique=False)

    op.create_table('orders',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('buyer_id', sa.String(length=36), nullable=False),
    sa.Column('seller_id', sa.String(length=36), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('fee', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('quote_id', sa.String(length=36), nullable=True),
    sa.Column('escrow_transfer_id', sa.String(length=36), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('total > 0 AND fee >= 0 AND fee <= total', name=op.f('ck_orders_amounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('quote_id', name=op.f('uq_orders_quote_id'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_buyer', ['buyer_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_orders_seller', ['seller_id', 'created_at', 'id'], unique=False)

    op.create_table('rfqs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('buyer_id', sa.String(length=36), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('specification', sa.Text(), nullable=False),
    sa.Column('quantity', sa.BigInteger(), nullable=False),
    sa.Column('unit', sa.String(length=8), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_rfqs_quantity_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rfqs'))
    )
    with op.batch_alter_table('rfqs', schema=None) as batch_op:
        batch_op.create_index('ix_rfqs_buyer', ['buyer_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_rfqs_open', ['status', 'category', 'deadline', 'id'], unique=False)

    op.create_table('capacity_slots',
    sa.Column('listing_id', sa.String(length=36), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['listing_id'], ['listings.id'], name=op.f('fk_capacity_slots_listing_id_listings')),
    sa.PrimaryKeyConstraint('listing_id', 'starts_at', name=op.f('pk_capacity_slots'))
    )
    with op.batch_alter_table('capacity_slots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_capacity_slots_order_id'), ['order_id'], unique=False)

    op.create_table('order_lines',
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('listing_id', sa.String(length=36), nullable=True),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('quantity', sa.BigInteger(), nullable=False),
    sa.Column('unit_price', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('quantity > 0 AND unit_price > 0 AND amount > 0', name=op.f('ck_order_lines_positive')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_lines_order_id_orders')),
    sa.PrimaryKeyConstraint('order_id', 'line_no', name=op.f('pk_order_lines'))
    )
    op.create_table('order_transitions',
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=True),
    sa.Column('to_state', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_transitions_order_id_orders')),
    sa.PrimaryKeyConstraint('order_id', 'version', name=op.f('pk_order_transitions'))
    )
    op.create_table('quotes',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('rfq_id', sa.String(length=36), nullable=False),
    sa.Column('seller_id', sa.String(length=36), nullable=False),
    sa.Column('price', sa.BigInteger(), nullable=False),
    sa.Column('lead_time_days', sa.Integer(), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('price > 0', name=op.f('ck_quotes_price_positive')),
    sa.ForeignKeyConstraint(['rfq_id'], ['rfqs.id'], name=op.f('fk_quotes_rfq_id_rfqs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quotes'))
    )
    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quotes_rfq_id'), ['rfq_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quotes_rfq_id'))

    op.drop_table('quotes')
    op.drop_table('order_transitions')
    op.drop_table('order_lines')
    with op.batch_alter_table('capacity_slots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_capacity_slots_order_id'))

    op.drop_table('capacity_slots')
    with op.batch_alter_table('rfqs', schema=None) as batch_op:
        batch_op.drop_index('ix_rfqs_open')
        batch_op.drop_index('ix_rfqs_buyer')

    op.drop_table('rfqs')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_seller')
        batch_op.drop_index('ix_orders_buyer')

    op.drop_table('orders')
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.drop_index('ix_listings_seller')
        batch_op.drop_index('ix_listings_search')

    op.drop_table('listings')
