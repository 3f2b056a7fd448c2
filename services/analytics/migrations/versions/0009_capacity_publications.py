"""capacity publications

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('machine_trackers') as batch:
        batch.add_column(sa.Column('changes', sa.BigInteger(), nullable=False, server_default='0'))
    op.create_table('capacity_publications',
    sa.Column('device_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('measured_from', sa.String(length=200), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('device_id', name=op.f('pk_capacity_publications'))
    )


def downgrade() -> None:
    op.drop_table('capacity_publications')
    with op.batch_alter_table('machine_trackers') as batch:
        batch.drop_column('changes')
