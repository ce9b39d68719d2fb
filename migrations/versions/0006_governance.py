"""governance: alerts, budgets and their computed state, webhooks and alert deliveries

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 18:40:00
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), server_default='', nullable=False),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('dedup_key', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_alerts_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'id', name=op.f('pk_alerts'))
    )
    op.create_index('uq_alerts_project_dedup', 'alerts', ['project_id', 'dedup_key'], unique=True)
    op.create_index('ix_alerts_project_created', 'alerts', ['project_id', 'created_at'], unique=False)
    op.create_index('ix_alerts_project_open', 'alerts', ['project_id', 'created_at'], unique=False, postgresql_where=sa.text('acknowledged_at IS NULL'))
    op.create_table('budgets',
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('scope_value', sa.Text(), server_default='', nullable=False),
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('limit_usd', sa.Numeric(precision=22, scale=10), nullable=False),
    sa.Column('thresholds', postgresql.ARRAY(sa.Integer()), server_default='{50,80,100}', nullable=False),
    sa.Column('hard', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('limit_usd > 0', name=op.f('ck_budgets_limit_positive')),
    sa.CheckConstraint("period IN ('day', 'week', 'month')", name=op.f('ck_budgets_period_known')),
    sa.CheckConstraint("scope IN ('project', 'team', 'feature', 'customer', 'model', 'user')", name=op.f('ck_budgets_scope_known')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_budgets_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'id', name=op.f('pk_budgets'))
    )
    op.create_table('budget_states',
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('budget_id', sa.BigInteger(), nullable=False),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('spent', sa.Numeric(precision=22, scale=10), nullable=False),
    sa.Column('settled_spent', sa.Numeric(precision=22, scale=10), nullable=False),
    sa.Column('settled_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expected_total', sa.Numeric(precision=22, scale=10), nullable=False),
    sa.Column('expected_low', sa.Numeric(precision=22, scale=10), nullable=False),
    sa.Column('expected_high', sa.Numeric(precision=22, scale=10), nullable=False),
    sa.Column('exhausts_on', sa.Date(), nullable=True),
    sa.Column('thresholds_crossed', postgresql.ARRAY(sa.Integer()), server_default='{}', nullable=False),
    sa.Column('exhausted', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id', 'budget_id'], ['budgets.project_id', 'budgets.id'], name=op.f('fk_budget_states_project_id_budgets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'budget_id', name=op.f('pk_budget_states'))
    )
    op.create_table('webhooks',
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('name', sa.Text(), server_default='', nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('secret', sa.Text(), nullable=True),
    sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_webhooks_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'id', name=op.f('pk_webhooks'))
    )
    op.create_table('alert_deliveries',
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('alert_id', sa.BigInteger(), nullable=False),
    sa.Column('webhook_id', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')", name=op.f('ck_alert_deliveries_status_known')),
    sa.ForeignKeyConstraint(['project_id', 'alert_id'], ['alerts.project_id', 'alerts.id'], name=op.f('fk_alert_deliveries_project_id_alerts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id', 'webhook_id'], ['webhooks.project_id', 'webhooks.id'], name=op.f('fk_alert_deliveries_project_id_webhooks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'alert_id', 'webhook_id', name=op.f('pk_alert_deliveries'))
    )
    op.create_index('ix_alert_deliveries_project_pending', 'alert_deliveries', ['project_id', 'next_attempt_at'], unique=False, postgresql_where=sa.text("status = 'pending'"))
    op.create_index('ix_alert_deliveries_project_webhook', 'alert_deliveries', ['project_id', 'webhook_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_alert_deliveries_project_webhook', table_name='alert_deliveries')
    op.drop_index('ix_alert_deliveries_project_pending', table_name='alert_deliveries', postgresql_where=sa.text("status = 'pending'"))
    op.drop_table('alert_deliveries')
    op.drop_table('webhooks')
    op.drop_table('budget_states')
    op.drop_table('budgets')
    op.drop_table('alerts')
