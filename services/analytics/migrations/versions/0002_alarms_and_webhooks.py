"""alarm rules, alarms, device states and webhooks

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 11:42:00.329989
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('alarm_rules',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('profile_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('revision', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alarm_rules'))
    )
    op.create_index(op.f('ix_alarm_rules_revision'), 'alarm_rules', ['revision'], unique=False)
    op.create_index('ix_alarm_rules_tenant_profile', 'alarm_rules', ['tenant_id', 'profile_id', 'id'], unique=False)
    op.create_table('alarms',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('device_id', sa.String(length=36), nullable=False),
    sa.Column('rule_id', sa.String(length=36), nullable=False),
    sa.Column('rule_version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('severity', sa.SmallInteger(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('acknowledged', sa.Boolean(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cleared_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cleared_by', sa.String(length=200), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=200), nullable=False),
    sa.Column('raised_by', sa.JSON(), nullable=False),
    sa.Column('severity_history', sa.JSON(), nullable=False),
    sa.Column('comments', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alarms'))
    )
    op.create_index('ix_alarms_tenant_started', 'alarms', ['tenant_id', 'started_at', 'id'], unique=False)
    op.create_index('uq_alarms_active_device_rule', 'alarms', ['device_id', 'rule_id'], unique=True, postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))
    op.create_table('device_states',
    sa.Column('device_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('state', sa.LargeBinary(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('device_id', name=op.f('pk_device_states'))
    )
    op.create_table('known_devices',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('profile_id', sa.String(length=36), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('details_as_of', sa.Integer(), nullable=False),
    sa.Column('state_as_of', sa.Integer(), nullable=False),
    sa.Column('revision', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_known_devices'))
    )
    op.create_index(op.f('ix_known_devices_revision'), 'known_devices', ['revision'], unique=False)
    op.create_index(op.f('ix_known_devices_tenant_id'), 'known_devices', ['tenant_id'], unique=False)
    op.create_table('processed_batches',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_processed_batches'))
    )
    op.create_index(op.f('ix_processed_batches_processed_at'), 'processed_batches', ['processed_at'], unique=False)
    op.create_table('readings_per_minute',
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('minute', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted', sa.BigInteger(), nullable=False),
    sa.Column('rejected', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'minute', name=op.f('pk_readings_per_minute'))
    )
    revisions = op.create_table('revisions',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_revisions'))
    )
    op.bulk_insert(revisions, [{'name': 'rules', 'value': 0}, {'name': 'devices', 'value': 0}])
    op.create_table('webhook_attempts',
    sa.Column('delivery_id', sa.String(length=36), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status_code', sa.SmallInteger(), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('delivery_id', 'number', name=op.f('pk_webhook_attempts'))
    )
    op.create_table('webhook_deliveries',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('webhook_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries'))
    )
    op.create_index('ix_webhook_deliveries_due', 'webhook_deliveries', ['state', 'next_attempt_at'], unique=False)
    op.create_index('ix_webhook_deliveries_listing', 'webhook_deliveries', ['webhook_id', 'created_at', 'id'], unique=False)
    op.create_index('uq_webhook_deliveries_event', 'webhook_deliveries', ['webhook_id', 'event_id'], unique=True)
    op.create_table('webhooks',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('event_types', sa.JSON(), nullable=False),
    sa.Column('secret', sa.String(length=128), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('disabled_reason', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhooks'))
    )
    op.create_index(op.f('ix_webhooks_tenant_id'), 'webhooks', ['tenant_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_webhooks_tenant_id'), table_name='webhooks')
    op.drop_table('webhooks')
    op.drop_index('uq_webhook_deliveries_event', table_name='webhook_deliveries')
    op.drop_index('ix_webhook_deliveries_listing', table_name='webhook_deliveries')
    op.drop_index('ix_webhook_deliveries_due', table_name='webhook_deliveries')
    op.drop_table('webhook_deliveries')
    op.drop_table('webhook_attempts')
    op.drop_table('revisions')
    op.drop_table('readings_per_minute')
    op.drop_index(op.f('ix_processed_batches_processed_at'), table_name='processed_batches')
    op.drop_table('processed_batches')
    op.drop_index(op.f('ix_known_devices_tenant_id'), table_name='known_devices')
    op.drop_index(op.f('ix_known_devices_revision'), table_name='known_devices')
    op.drop_table('known_devices')
    op.drop_table('device_states')
    op.drop_index('uq_alarms_active_device_rule', table_name='alarms', postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))
    op.drop_index('ix_alarms_tenant_started', table_name='alarms')
    op.drop_table('alarms')
    op.drop_index('ix_alarm_rules_tenant_profile', table_name='alarm_rules')
    op.drop_index(op.f('ix_alarm_rules_revision'), table_name='alarm_rules')
    op.drop_table('alarm_rules')
