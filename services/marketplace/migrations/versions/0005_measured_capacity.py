"""measured capacity

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 16:19:57.806800
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('measured_capacity',
    sa.Column('device_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('measured_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('utilisation', sa.Float(), nullable=False),
    sa.Column('idle_hours_per_week', sa.Float(), nullable=False),
    sa.Column('oee', sa.Float(), nullable=True),
    sa.Column('mtbf_seconds', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('device_id', name=op.f('pk_measured_capacity'))
    )


def downgrade() -> None:
    op.drop_table('measured_capacity')
