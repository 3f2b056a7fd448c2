"""compacted_readings: closed days of readings in compressed chunks, partitioned like
readings, with a day partition for every day partition of readings

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 00:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RETENTION_TIERS = (30, 90, 365, 1095, 3650)


def upgrade() -> None:
    op.create_table('compacted_readings',
    sa.Column('device_number', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('retention_days', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('day', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('device_number', 'retention_days', 'day', name=op.f('pk_compacted_readings')),
    postgresql_partition_by='LIST (retention_days)'
    )
    if op.get_bind().dialect.name != 'postgresql':
        return
    for days in RETENTION_TIERS:
        op.execute(
            f'CREATE TABLE compacted_readings_r{days} PARTITION OF compacted_readings '
            f'FOR VALUES IN ({days}) PARTITION BY RANGE (day)'
        )
        names = op.get_bind().execute(sa.text(
            'SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid '
            'WHERE i.inhparent = CAST(:parent AS regclass)'
        ), {'parent': f'readings_r{days}'}).scalars()
        for name in names:
            day = name.rsplit('_', 1)[1]
            op.execute(
                f'CREATE TABLE compacted_readings_r{days}_{day} PARTITION OF compacted_readings_r{days} '
                f"FOR VALUES FROM ('{day} 00:00:00+00') TO (('{day} 00:00:00+00'::timestamptz + interval '1 day'))"
            )


def downgrade() -> None:
    # Dropping chunks would lose the readings they hold.
    held = op.get_bind().execute(sa.text('SELECT count(*) FROM compacted_readings')).scalar_one()
    if held:
        raise RuntimeError(f'{held} compacted chunks hold readings: not dropped')
    op.drop_table('compacted_readings')
