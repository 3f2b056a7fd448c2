"""rollups of readings per minute, hour and day, partitioned like readings and filled from
the readings stored so far

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 18:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RETENTION_TIERS = (30, 90, 365, 1095, 3650)
RESOLUTIONS = (60, 3600, 86400)
KINDS = (('float', sa.Double()), ('int', sa.BigInteger()), ('bool', sa.Boolean()), ('text', sa.Text()))
# SQLite keeps times as text in SQLAlchemy's format: a bucket is its start in that format.
SQLITE_BUCKETS = {60: '%Y-%m-%d %H:%M:00.000000', 3600: '%Y-%m-%d %H:00:00.000000', 86400: '%Y-%m-%d 00:00:00.000000'}


def upgrade() -> None:
    op.create_table('rollups',
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('resolution', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('bucket', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retention_days', sa.SmallInteger(), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('sum', sa.Double(), nullable=True),
    sa.Column('sumsq', sa.Double(), nullable=True),
    sa.Column('min', sa.Double(), nullable=True),
    sa.Column('max', sa.Double(), nullable=True),
    sa.Column('first_ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_ts', sa.DateTime(timezone=True), nullable=False),
    *(sa.Column(f'{end}_{kind}', column_type, nullable=True) for end in ('first', 'last') for kind, column_type in KINDS),
    sa.PrimaryKeyConstraint('device_id', 'channel', 'resolution', 'bucket', 'retention_days', name=op.f('pk_rollups')),
    postgresql_partition_by='LIST (retention_days)'
    )
    postgres = op.get_bind().dialect.name == 'postgresql'
    if postgres:
        for days in RETENTION_TIERS:
            op.execute(
                f'CREATE TABLE rollups_r{days} PARTITION OF rollups '
                f'FOR VALUES IN ({days}) PARTITION BY RANGE (bucket)'
            )
            _partition_days_of_readings(days)
    for resolution in RESOLUTIONS:
        op.execute(_rolled_up(resolution, postgres))


def downgrade() -> None:
    op.drop_table('rollups')


def _partition_days_of_readings(days: int) -> None:
    """Makes a day partition of rollups for every day partition of readings."""
    names = op.get_bind().execute(sa.text(
        'SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid '
        'WHERE i.inhparent = CAST(:parent AS regclass)'
    ), {'parent': f'readings_r{days}'}).scalars()
    for name in names:
        day = name.rsplit('_', 1)[1]
        op.execute(
            f'CREATE TABLE rollups_r{days}_{day} PARTITION OF rollups_r{days} '
            f"FOR VALUES FROM ('{day} 00:00:00+00') TO (('{day} 00:00:00+00'::timestamptz + interval '1 day'))"
        )


def _rolled_up(resolution: int, postgres: bool) -> str:
    """The statement adding the rollups of `resolution` of every stored reading."""
    bucket = (
        f"date_bin(interval '{resolution} seconds', ts, timestamptz '1970-01-01 00:00:00+00')"
        if postgres
        else f"strftime('{SQLITE_BUCKETS[resolution]}', ts)"
    )
    window = f'PARTITION BY device_id, channel, retention_days, {bucket} ORDER BY ts'
    ends = [
        f'first_value({kind}_value) OVER ({window}{order}) AS {end}_{kind}'
        for end, order in (('first', ''), ('last', ' DESC'))
        for kind in ('float', 'int', 'bool', 'text')
    ]
    typed = ', '.join(f'{end}_{kind}' for end in ('first', 'last') for kind in ('float', 'int', 'bool', 'text'))
    return (
        f'INSERT INTO rollups (device_id, channel, resolution, bucket, retention_days, count, sum, sumsq, min, max, '
        f'first_ts, last_ts, {typed}) '
        f'SELECT device_id, channel, {resolution}, bucket, retention_days, count(*), sum(num), sum(num * num), '
        f'min(num), max(num), min(ts), max(ts), {typed} '
        f'FROM (SELECT device_id, channel, retention_days, ts, {bucket} AS bucket, '
        f'coalesce(float_value, int_value) AS num, {", ".join(ends)} FROM readings) AS stored '
        f'GROUP BY device_id, channel, retention_days, bucket, {typed}'
    )
