"""companies and completions by day

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 21:03:11.881940
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('companies',
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_companies'))
    )
    with op.batch_alter_table('order_transitions', schema=None) as batch_op:
        batch_op.create_index('ix_order_transitions_to_state_at', ['to_state', 'at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('order_transitions', schema=None) as batch_op:
        batch_op.drop_index('ix_order_transitions_to_state_at')

    op.drop_table('companies')
