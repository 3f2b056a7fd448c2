"""device activity

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 11:57:40.569983
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('device_activity',
    sa.Column('device_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('last_reading_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('device_id', name=op.f('pk_device_activity'))
    )
    op.create_index(op.f('ix_device_activity_tenant_id'), 'device_activity', ['tenant_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_device_activity_tenant_id'), table_name='device_activity')
    op.drop_table('device_activity')
