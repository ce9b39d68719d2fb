"""pending GenAI log records waiting for their span

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 16:30:00

OTLP logs and traces travel separately, so a prompt/completion log record may arrive before its
span. Such records wait here, keyed like the span, and are folded into it when it is stored.
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pending_logs',
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('trace_id', sa.String(length=32), nullable=False),
    sa.Column('span_id', sa.String(length=16), nullable=False),
    sa.Column('records', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_pending_logs_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'trace_id', 'span_id', name=op.f('pk_pending_logs'))
    )
    op.create_index('ix_pending_logs_project_received', 'pending_logs', ['project_id', 'received_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_pending_logs_project_received', table_name='pending_logs')
    op.drop_table('pending_logs')
