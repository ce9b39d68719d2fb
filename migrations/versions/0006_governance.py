"""governance: alerts, budgets, webhooks

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


def downgrade() -> None:
    op.drop_table('alerts')
