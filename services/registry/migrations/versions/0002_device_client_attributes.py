"""device client attributes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('device_client_attributes',
    sa.Column('device_id', sa.String(length=36), nullable=False),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_device_client_attributes_device_id_devices')),
    sa.PrimaryKeyConstraint('device_id', name=op.f('pk_device_client_attributes'))
    )


def downgrade() -> None:
    op.drop_table('device_client_attributes')
