"""readings packed: one row per device, tier and instant, the device by number and the
values packed against an interned channel set; the readings stored so far moved over

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 23:40:00

The values are packed by services/telemetry/packing.py, whose format is the table's: a
later change of that format comes with a migration of its own.
"""

from collections.abc import Iterator, Sequence
from itertools import groupby

import sqlalchemy as sa
from alembic import op

from services.telemetry import packing


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RETENTION_TIERS = (30, 90, 365, 1095, 3650)
VALUE_COLUMNS = ('float_value', 'int_value', 'bool_value', 'text_value')
ROWS_PER_INSERT = 5000

device_numbers = sa.table('device_numbers', sa.column('number', sa.Integer()), sa.column('device_id', sa.Uuid()))
channel_sets = sa.table(
    'channel_sets', sa.column('id', sa.Integer()), sa.column('digest', sa.String()),
    sa.column('channels', sa.JSON()), sa.column('size', sa.SmallInteger()),
)
packed = ('device_number', 'retention_days', 'ts', 'channel_set', 'vals')
unpacked = ('device_id', 'channel', 'ts', 'retention_days', *VALUE_COLUMNS)


def upgrade() -> None:
    op.create_table('device_numbers',
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('number', name=op.f('pk_device_numbers')),
    sa.UniqueConstraint('device_id', name=op.f('uq_device_numbers_device_id'))
    )
    op.create_table('channel_sets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('size', sa.SmallInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_sets')),
    sa.UniqueConstraint('digest', name=op.f('uq_channel_sets_digest'))
    )
    days = _set_aside('readings', 'readings_0003')
    op.create_table('readings',
    sa.Column('device_number', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('retention_days', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel_set', sa.Integer(), nullable=False),
    sa.Column('vals', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('device_number', 'retention_days', 'ts', name=op.f('pk_readings')),
    postgresql_partition_by='LIST (retention_days)'
    )
    _partition('readings', days)
    _insert('readings', packed, _packed_rows())
    op.drop_table('readings_0003')


def downgrade() -> None:
    days = _set_aside('readings', 'readings_0005')
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
    _partition('readings', days)
    _insert('readings', unpacked, _unpacked_rows())
    op.drop_table('readings_0005')
    op.drop_table('channel_sets')
    op.drop_table('device_numbers')


def _postgres() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def _set_aside(table: str, aside: str) -> list[tuple[int, str]]:
    """Renames `table` (its tiers and days and its key too, on PostgreSQL) to `aside`;
    returns its (tier, day) partitions."""
    op.rename_table(table, aside)
    if not _postgres():
        return []
    op.execute(f'ALTER TABLE {aside} RENAME CONSTRAINT pk_{table} TO pk_{aside}')
    days = []
    for tier in RETENTION_TIERS:
        for name in _partitions_of(f'{table}_r{tier}'):
            day = name.rsplit('_', 1)[1]
            op.rename_table(name, f'{aside}_r{tier}_{day}')
            days.append((tier, day))
        op.rename_table(f'{table}_r{tier}', f'{aside}_r{tier}')
    return days


def _partitions_of(parent: str) -> list[str]:
    query = sa.text(
        'SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid '
        'WHERE i.inhparent = CAST(:parent AS regclass)'
    )
    return list(op.get_bind().execute(query, {'parent': parent}).scalars())


def _partition(table: str, days: list[tuple[int, str]]) -> None:
    """The tier partitions of `table` and the day partitions of `days` in them."""
    if not _postgres():
        return
    for tier in RETENTION_TIERS:
        op.execute(
            f'CREATE TABLE {table}_r{tier} PARTITION OF {table} '
            f'FOR VALUES IN ({tier}) PARTITION BY RANGE (ts)'
        )
    for tier, day in days:
        op.execute(
            f'CREATE TABLE {table}_r{tier}_{day} PARTITION OF {table}_r{tier} '
            f"FOR VALUES FROM ('{day} 00:00:00+00') TO (('{day} 00:00:00+00'::timestamptz + interval '1 day'))"
        )


def _insert(table: str, columns: tuple[str, ...], rows: Iterator[tuple]) -> None:
    statement = sa.table(table, *(sa.column(c) for c in columns)).insert()
    chunk: list[dict] = []
    for row in rows:
        chunk.append(dict(zip(columns, row, strict=True)))
        if len(chunk) == ROWS_PER_INSERT:
            op.get_bind().execute(statement, chunk)
            chunk = []
    if chunk:
        op.get_bind().execute(statement, chunk)


def _packed_rows() -> Iterator[tuple]:
    """The set-aside readings, a row per device, tier and instant, with numbers given to
    their devices and ids to their channel sets: read a device at a time, as the inserts
    take turns with the reads on the one connection."""
    bind = op.get_bind()
    query = sa.text(
        f'SELECT retention_days, ts, channel, {", ".join(VALUE_COLUMNS)} FROM readings_0003 '
        'WHERE device_id = :device ORDER BY retention_days, ts'
    ).bindparams(sa.bindparam('device', type_=sa.Uuid())).columns(
        sa.column('retention_days', sa.SmallInteger()), sa.column('ts', sa.DateTime(timezone=True)),
        sa.column('channel', sa.String()), sa.column('float_value', sa.Double()),
        sa.column('int_value', sa.BigInteger()), sa.column('bool_value', sa.Boolean()),
        sa.column('text_value', sa.Text()),
    )
    devices = bind.execute(
        sa.text('SELECT DISTINCT device_id FROM readings_0003').columns(sa.column('device_id', sa.Uuid()))
    ).scalars().all()
    set_ids: dict = {}
    for device in devices:
        number = _number(device)
        for (tier, ts), rows in groupby(bind.execute(query, {'device': device}).all(), key=lambda row: tuple(row[:2])):
            values = {row.channel: next(v for v in row[3:] if v is not None) for row in rows}
            channel_set = packing.channel_set_of(values)
            if channel_set not in set_ids:
                set_ids[channel_set] = _set_id(channel_set)
            yield number, tier, ts, set_ids[channel_set], packing.pack(channel_set, values)


def _number(device) -> int:
    bind = op.get_bind()
    bind.execute(device_numbers.insert().values(device_id=device))
    return bind.execute(sa.select(device_numbers.c.number).where(device_numbers.c.device_id == device)).scalar_one()


def _set_id(channel_set: packing.ChannelSet) -> int:
    bind = op.get_bind()
    digest = packing.digest(channel_set)
    bind.execute(channel_sets.insert().values(digest=digest, channels=channel_set, size=len(channel_set)))
    return bind.execute(sa.select(channel_sets.c.id).where(channel_sets.c.digest == digest)).scalar_one()


def _unpacked_rows() -> Iterator[tuple]:
    """The set-aside packed rows, a row per reading."""
    query = sa.text(
        'SELECT d.device_id, r.retention_days, r.ts, s.channels, r.vals FROM readings_0005 r '
        'JOIN device_numbers d ON d.number = r.device_number JOIN channel_sets s ON s.id = r.channel_set'
    ).columns(
        sa.column('device_id', sa.Uuid()), sa.column('retention_days', sa.SmallInteger()),
        sa.column('ts', sa.DateTime(timezone=True)), sa.column('channels', sa.JSON()),
        sa.column('vals', sa.LargeBinary()),
    )
    kinds = {'f': 0, 'i': 1, 'b': 2, 's': 3}
    for device, tier, ts, channels, vals in op.get_bind().execute(query).all():
        channel_set = tuple((channel, kind) for channel, kind in channels)
        for (channel, kind), (_, value) in zip(channel_set, packing.unpack(channel_set, bytes(vals)), strict=True):
            typed = [None] * 4
            typed[kinds[kind]] = value
            yield (device, channel, ts, tier, *typed)
