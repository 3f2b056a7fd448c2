"""evidence of booked slots

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 17:20:15.330615
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('booked_slots',
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('order_id', 'starts_at', name=op.f('pk_booked_slots'))
    )
    op.create_index('ix_booked_slots_awaiting', 'booked_slots', ['ends_at'], unique=False, postgresql_where=sa.text('reported_at IS NULL'), sqlite_where=sa.text('reported_at IS NULL'))
    op.create_table('capacity_bookings',
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('device_id', sa.String(length=36), nullable=False),
    sa.Column('order_version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_capacity_bookings'))
    )


def downgrade() -> None:
    op.drop_table('capacity_bookings')
    op.drop_index('ix_booked_slots_awaiting', table_name='booked_slots', postgresql_where=sa.text('reported_at IS NULL'), sqlite_where=sa.text('reported_at IS NULL'))
    op.drop_table('booked_slots')
