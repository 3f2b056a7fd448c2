"""batch claims per partition

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 15:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('processed_batches') as batch:
        batch.alter_column('id', existing_type=sa.String(length=36), type_=sa.String(length=64), existing_nullable=False)


def downgrade() -> None:
    op.execute("DELETE FROM processed_batches WHERE id LIKE '%/%'")
    with op.batch_alter_table('processed_batches') as batch:
        batch.alter_column('id', existing_type=sa.String(length=64), type_=sa.String(length=36), existing_nullable=False)
