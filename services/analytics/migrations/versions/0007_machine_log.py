"""machine log

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 18:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'machine_log',
        sa.Column('device_id', sa.String(length=36), nullable=False),
        sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('first_ts', sa.BigInteger(), nullable=False),
        sa.Column('last_ts', sa.BigInteger(), nullable=False),
        sa.Column('record', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('device_id', 'seq'),
    )
    op.create_index('ix_machine_log_last_ts', 'machine_log', ['last_ts'], unique=False, postgresql_using='brin')


def downgrade() -> None:
    op.drop_index('ix_machine_log_last_ts', table_name='machine_log', postgresql_using='brin')
    op.drop_table('machine_log')
