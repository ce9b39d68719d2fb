"""right-sizing: tasks, the LLM judge and replay experiments

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 18:40:00

Endpoint API keys are not stored: ``*_api_key_env`` names an environment variable of the worker.
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rightsizing_settings',
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('task_key', sa.String(length=16), server_default='feature', nullable=False),
    sa.Column('score_names', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
    sa.Column('margin', sa.Double(), server_default='0.05', nullable=False),
    sa.Column('min_samples', sa.Integer(), server_default='30', nullable=False),
    sa.Column('replay_base_url', sa.Text(), nullable=True),
    sa.Column('replay_provider', sa.Text(), nullable=True),
    sa.Column('replay_api_key_env', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_rightsizing_settings_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', name=op.f('pk_rightsizing_settings'))
    )
    op.create_table('judge_settings',
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('base_url', sa.Text(), nullable=False),
    sa.Column('model', sa.Text(), nullable=False),
    sa.Column('provider', sa.Text(), nullable=True),
    sa.Column('api_key_env', sa.Text(), nullable=True),
    sa.Column('templates', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
    sa.Column('custom_prompt', sa.Text(), nullable=True),
    sa.Column('sample_rate', sa.Double(), server_default='0.1', nullable=False),
    sa.Column('judged_through_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('judged_through_trace', sa.String(length=32), nullable=True),
    sa.Column('judged_through_span', sa.String(length=16), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_judge_settings_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', name=op.f('pk_judge_settings'))
    )
    op.create_table('experiments',
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('task_kind', sa.String(length=16), nullable=False),
    sa.Column('task_value', sa.Text(), nullable=False),
    sa.Column('baseline_model', sa.Text(), nullable=False),
    sa.Column('candidate_model', sa.Text(), nullable=False),
    sa.Column('candidate_provider', sa.Text(), nullable=True),
    sa.Column('sample_size', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('requested_by', sa.Text(), server_default='', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('summary', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_experiments_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'id', name=op.f('pk_experiments'))
    )
    op.create_index('ix_experiments_project_created', 'experiments', ['project_id', 'created_at'], unique=False)
    op.create_index('ix_experiments_project_status', 'experiments', ['project_id', 'status'], unique=False)
    op.create_table('experiment_results',
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('experiment_id', sa.BigInteger(), nullable=False),
    sa.Column('trace_id', sa.String(length=32), nullable=False),
    sa.Column('span_id', sa.String(length=16), nullable=False),
    sa.Column('output_text', sa.Text(), nullable=True),
    sa.Column('input_tokens', sa.BigInteger(), nullable=True),
    sa.Column('output_tokens', sa.BigInteger(), nullable=True),
    sa.Column('cost', sa.Numeric(precision=22, scale=10), nullable=True),
    sa.Column('latency_ms', sa.Double(), nullable=True),
    sa.Column('baseline_scores', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('candidate_scores', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('agrees', sa.Boolean(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['project_id', 'experiment_id'], ['experiments.project_id', 'experiments.id'], name='fk_experiment_results_experiment_experiments', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_experiment_results_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'experiment_id', 'trace_id', 'span_id', name=op.f('pk_experiment_results'))
    )


def downgrade() -> None:
    op.drop_table('experiment_results')
    op.drop_index('ix_experiments_project_status', table_name='experiments')
    op.drop_index('ix_experiments_project_created', table_name='experiments')
    op.drop_table('experiments')
    op.drop_table('judge_settings')
    op.drop_table('rightsizing_settings')
