"""idle hours and slot evidence

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 17:20:44.955644
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('measured_hours',
    sa.Column('device_id', sa.String(length=36), nullable=False),
    sa.Column('weekday', sa.SmallInteger(), nullable=False),
    sa.Column('hour', sa.SmallInteger(), nullable=False),
    sa.Column('idle_seconds', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('device_id', 'weekday', 'hour', name=op.f('pk_measured_hours'))
    )
    op.create_table('zone_hours',
    sa.Column('zone', sa.String(length=64), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('weekday', sa.SmallInteger(), nullable=False),
    sa.Column('hour', sa.SmallInteger(), nullable=False),
    sa.PrimaryKeyConstraint('zone', 'starts_at', name=op.f('pk_zone_hours'))
    )
    op.create_table('order_slot_evidence',
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('producing_seconds', sa.Float(), nullable=False),
    sa.Column('setup_seconds', sa.Float(), nullable=False),
    sa.Column('idle_seconds', sa.Float(), nullable=False),
    sa.Column('down_seconds', sa.Float(), nullable=False),
    sa.Column('parts', sa.Float(), nullable=False),
    sa.Column('good_parts', sa.Float(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('measured_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_slot_evidence_order_id_orders')),
    sa.PrimaryKeyConstraint('order_id', 'starts_at', name=op.f('pk_order_slot_evidence'))
    )
    op.add_column('measured_capacity', sa.Column('zone', sa.String(length=64), server_default='UTC', nullable=False))


def downgrade() -> None:
    op.drop_column('measured_capacity', 'zone')
    op.drop_table('order_slot_evidence')
    op.drop_table('zone_hours')
    op.drop_table('measured_hours')
