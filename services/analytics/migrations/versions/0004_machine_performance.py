"""machine performance

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 14:57:54.262771
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('machine_trackers',
    sa.Column('device_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('model_version', sa.Integer(), nullable=False),
    sa.Column('state', sa.LargeBinary(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('device_id', name=op.f('pk_machine_trackers'))
    )
    op.create_table('performance_quarters',
    sa.Column('device_id', sa.String(length=36), nullable=False),
    sa.Column('start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('site', sa.String(length=200), nullable=False),
    sa.Column('apt', sa.Float(), nullable=False),
    sa.Column('asut', sa.Float(), nullable=False),
    sa.Column('adet', sa.Float(), nullable=False),
    sa.Column('adot', sa.Float(), nullable=False),
    sa.Column('pdot', sa.Float(), nullable=False),
    sa.Column('unplanned_producing', sa.Float(), nullable=False),
    sa.Column('idle_outside_plan', sa.Float(), nullable=False),
    sa.Column('operating', sa.Float(), nullable=False),
    sa.Column('pq', sa.Float(), nullable=False),
    sa.Column('sq', sa.Float(), nullable=False),
    sa.Column('unplanned_pq', sa.Float(), nullable=False),
    sa.Column('ideal_production', sa.Float(), nullable=False),
    sa.Column('failures', sa.BigInteger(), nullable=False),
    sa.Column('restorations', sa.BigInteger(), nullable=False),
    sa.Column('restoration', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('device_id', 'start', name=op.f('pk_performance_quarters'))
    )
    op.create_index('ix_performance_quarters_tenant_site_start', 'performance_quarters', ['tenant_id', 'site', 'start'], unique=False)
    op.create_index('ix_performance_quarters_tenant_start', 'performance_quarters', ['tenant_id', 'start'], unique=False)
    op.create_table('plant_settings',
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('revision', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'kind', 'key', name=op.f('pk_plant_settings'))
    )
    op.create_index(op.f('ix_plant_settings_revision'), 'plant_settings', ['revision'], unique=False)
    op.add_column('known_devices', sa.Column('site', sa.String(length=200), server_default='', nullable=False))
    revisions = sa.table('revisions', sa.column('name', sa.String), sa.column('value', sa.BigInteger))
    op.bulk_insert(revisions, [{'name': 'plant_settings', 'value': 0}])


def downgrade() -> None:
    op.execute("DELETE FROM revisions WHERE name = 'plant_settings'")
    op.drop_column('known_devices', 'site')
    op.drop_index(op.f('ix_plant_settings_revision'), table_name='plant_settings')
    op.drop_table('plant_settings')
    op.drop_index('ix_performance_quarters_tenant_start', table_name='performance_quarters')
    op.drop_index('ix_performance_quarters_tenant_site_start', table_name='performance_quarters')
    op.drop_table('performance_quarters')
    op.drop_table('machine_trackers')
