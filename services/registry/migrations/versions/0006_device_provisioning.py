"""device provisioning

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('profile_provisioning',
    sa.Column('profile_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('strategy', sa.String(length=32), nullable=False),
    sa.Column('provision_key', sa.String(length=64), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['profile_id'], ['profiles.id'], name=op.f('fk_profile_provisioning_profile_id_profiles')),
    sa.PrimaryKeyConstraint('profile_id', name=op.f('pk_profile_provisioning')),
    sa.UniqueConstraint('provision_key', name='uq_profile_provisioning_key')
    )
    op.create_table('provisioned_devices',
    sa.Column('device_id', sa.String(length=36), nullable=False),
    sa.Column('provisioned_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_provisioned_devices_device_id_devices')),
    sa.PrimaryKeyConstraint('device_id', name=op.f('pk_provisioned_devices'))
    )
    op.create_index('ux_device_credentials_secret_hash', 'device_credentials', ['secret_hash'], unique=True)


def downgrade() -> None:
    op.drop_index('ux_device_credentials_secret_hash', table_name='device_credentials')
    op.drop_table('provisioned_devices')
    op.drop_table('profile_provisioning')
