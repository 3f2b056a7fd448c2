"""readings, partitioned by retention tier then day, and tenants' retention

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 19:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RETENTION_TIERS = (30, 90, 365, 1095, 3650)


def upgrade() -> None:
    op.create_table('readings',
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retention_days', sa.SmallInteger(), nullable=False),
    sa.Column('float_value', sa.Double(), nullable=True),
    sa.Column('int_value', sa.BigInteger(), nullable=True),
    sa.Column('bool_value', sa.Boolean(), nullable=True),
    sa.Column('text_value', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('device_id', 'channel', 'ts', 'retention_days', name=op.f('pk_readings')),
    postgresql_partition_by='LIST (retention_days)'
    )
    if op.get_bind().dialect.name == 'postgresql':
        # Each tier is partitioned again by day; the writer creates the days.
        for days in RETENTION_TIERS:
            op.execute(
                f'CREATE TABLE readings_r{days} PARTITION OF readings '
                f'FOR VALUES IN ({days}) PARTITION BY RANGE (ts)'
            )
    op.create_table('tenant_retention',
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('days', sa.SmallInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_tenant_retention'))
    )


def downgrade() -> None:
    op.drop_table('tenant_retention')
    op.drop_table('readings')
