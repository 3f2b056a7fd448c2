"""directory follows device and profile changes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 16:58:29.590403
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('known_profile_versions',
    sa.Column('profile_id', sa.String(length=36), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('profile_id', 'version', name=op.f('pk_known_profile_versions'))
    )
    with op.batch_alter_table('known_devices', schema=None) as batch_op:
        # Devices learned before profiles were followed keep an unknown profile.
        batch_op.add_column(sa.Column('profile_id', sa.String(length=36), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('profile_version', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('state_as_of', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('profile_as_of', sa.Integer(), nullable=False, server_default='1'))


def downgrade() -> None:
    with op.batch_alter_table('known_devices', schema=None) as batch_op:
        batch_op.drop_column('profile_as_of')
        batch_op.drop_column('state_as_of')
        batch_op.drop_column('profile_version')
        batch_op.drop_column('profile_id')

    op.drop_table('known_profile_versions')
