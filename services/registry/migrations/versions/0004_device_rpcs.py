"""device rpcs

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('device_rpcs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('device_id', sa.String(length=36), nullable=False),
    sa.Column('method', sa.String(length=128), nullable=False),
    sa.Column('params', sa.JSON(), nullable=True),
    sa.Column('one_way', sa.Boolean(), nullable=False),
    sa.Column('timeout_ms', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('response', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_device_rpcs_device_id_devices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_rpcs'))
    )
    op.create_index('ix_device_rpcs_device_created', 'device_rpcs', ['device_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_device_rpcs_device_waiting', 'device_rpcs', ['device_id', 'status', 'expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_device_rpcs_device_waiting', table_name='device_rpcs')
    op.drop_index('ix_device_rpcs_device_created', table_name='device_rpcs')
    op.drop_table('device_rpcs')
