"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import storage.tables


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('access_request',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('requester', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('requester_email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('account_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('connector_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('entitlement_id', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('entitlement_name', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('duration_seconds', sa.Integer(), nullable=False),
    sa.Column('justification', sa.Text(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_at', storage.tables.UTCDateTime(), nullable=False),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
    sa.Column('decided_at', storage.tables.UTCDateTime(), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('granted_at', storage.tables.UTCDateTime(), nullable=True),
    sa.Column('expires_at', storage.tables.UTCDateTime(), nullable=True),
    sa.Column('revoked_at', storage.tables.UTCDateTime(), nullable=True),
    sa.Column('preexisting', sa.Boolean(), nullable=True),
    sa.Column('lease_until', storage.tables.UTCDateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('access_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_request_requester'), ['requester'], unique=False)
        batch_op.create_index('ix_request_state_expires', ['state', 'expires_at'], unique=False)
        batch_op.create_index('ix_request_state_lease', ['state', 'lease_until'], unique=False)
        batch_op.create_index('uq_pending_request', ['requester', 'connector_id', 'entitlement_id'], unique=True, sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"))

    op.create_table('audit_event',
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('at', storage.tables.UTCDateTime(), nullable=False),
    sa.Column('request_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_event_request_id'), ['request_id'], unique=False)

    op.create_table('catalog_account',
    sa.Column('connector_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('display_name', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('connector_id', 'id')
    )
    with op.batch_alter_table('catalog_account', schema=None) as batch_op:
        batch_op.create_index('ix_account_email', ['connector_id', 'email'], unique=False)

    op.create_table('catalog_entitlement',
    sa.Column('connector_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('resource_type', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('resource_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('requestable', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('connector_id', 'id')
    )
    with op.batch_alter_table('catalog_entitlement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_entitlement_name'), ['name'], unique=False)

    op.create_table('catalog_holding',
    sa.Column('connector_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('entitlement_id', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('account_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.PrimaryKeyConstraint('connector_id', 'entitlement_id', 'account_id')
    )
    op.create_table('catalog_sync',
    sa.Column('connector_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('finished_at', storage.tables.UTCDateTime(), nullable=False),
    sa.Column('entitlements', sa.Integer(), nullable=False),
    sa.Column('accounts', sa.Integer(), nullable=False),
    sa.Column('holdings', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('connector_id')
    )
    op.create_table('chat_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('recipient', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('ts', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('chat_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_message_request_id'), ['request_id'], unique=False)

    op.create_table('person',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('fetched_at', storage.tables.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('approval',
    sa.Column('request_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('approver', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('approved_at', storage.tables.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['access_request.id'], ),
    sa.PrimaryKeyConstraint('request_id', 'approver')
    )


def downgrade() -> None:
    op.drop_table('approval')
    op.drop_table('person')
    with op.batch_alter_table('chat_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chat_message_request_id'))

    op.drop_table('chat_message')
    op.drop_table('catalog_sync')
    op.drop_table('catalog_holding')
    with op.batch_alter_table('catalog_entitlement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_entitlement_name'))

    op.drop_table('catalog_entitlement')
    with op.batch_alter_table('catalog_account', schema=None) as batch_op:
        batch_op.drop_index('ix_account_email')

    op.drop_table('catalog_account')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_request_id'))
        batch_op.drop_index(batch_op.f('ix_audit_event_at'))

    op.drop_table('audit_event')
    with op.batch_alter_table('access_request', schema=None) as batch_op:
        batch_op.drop_index('uq_pending_request', sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"))
        batch_op.drop_index('ix_request_state_lease')
        batch_op.drop_index('ix_request_state_expires')
        batch_op.drop_index(batch_op.f('ix_access_request_requester'))

    op.drop_table('access_request')
