"""readings counted per partition

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 02:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('readings_per_minute', recreate='always') as batch:
        batch.add_column(sa.Column('counted_by', sa.SmallInteger(), nullable=False, server_default='0'))
        batch.drop_constraint('pk_readings_per_minute', type_='primary')
        batch.create_primary_key('pk_readings_per_minute', ['tenant_id', 'minute', 'counted_by'])
    with op.batch_alter_table('readings_per_minute') as batch:
        batch.alter_column('counted_by', existing_type=sa.SmallInteger(), server_default=None)


def downgrade() -> None:
    op.execute(
        'CREATE TEMPORARY TABLE summed_readings AS '
        'SELECT tenant_id, minute, SUM(accepted) AS accepted, SUM(rejected) AS rejected '
        'FROM readings_per_minute GROUP BY tenant_id, minute'
    )
    op.execute('DELETE FROM readings_per_minute')
    with op.batch_alter_table('readings_per_minute', recreate='always') as batch:
        batch.drop_constraint('pk_readings_per_minute', type_='primary')
        batch.drop_column('counted_by')
        batch.create_primary_key('pk_readings_per_minute', ['tenant_id', 'minute'])
    op.execute(
        'INSERT INTO readings_per_minute (tenant_id, minute, accepted, rejected) '
        'SELECT tenant_id, minute, accepted, rejected FROM summed_readings'
    )
    op.execute('DROP TABLE summed_readings')
