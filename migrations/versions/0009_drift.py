"""drift: runs, results, pinned baselines and model changes

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 18:40:00

A drift run compares a recent window with a baseline window per project and segment; its
results keep the test, p and q values, the effect size and both windows' summaries. Model
changes record the response model or system fingerprint changing under one requested model.
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('drift_runs',
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), server_default='done', nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
    sa.Column('baseline_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('baseline_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recent_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recent_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tests', sa.Integer(), server_default='0', nullable=False),
    sa.Column('drifted', sa.Integer(), server_default='0', nullable=False),
    sa.Column('sampled', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_drift_runs_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'id', name=op.f('pk_drift_runs'))
    )
    op.create_index('ix_drift_runs_project_started', 'drift_runs', ['project_id', 'started_at'], unique=False)
    op.create_table('drift_results',
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('run_id', sa.BigInteger(), nullable=False),
    sa.Column('segment_kind', sa.String(length=16), nullable=False),
    sa.Column('segment_value', sa.Text(), nullable=False),
    sa.Column('metric', sa.Text(), nullable=False),
    sa.Column('statistic', sa.String(length=32), nullable=False),
    sa.Column('stat_value', sa.Double(), nullable=False),
    sa.Column('p_value', sa.Double(), nullable=False),
    sa.Column('q_value', sa.Double(), nullable=False),
    sa.Column('effect_name', sa.String(length=16), nullable=False),
    sa.Column('effect', sa.Double(), nullable=False),
    sa.Column('baseline_n', sa.BigInteger(), nullable=False),
    sa.Column('recent_n', sa.BigInteger(), nullable=False),
    sa.Column('baseline', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('recent', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('drifted', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_drift_results_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id', 'run_id'], ['drift_runs.project_id', 'drift_runs.id'], name='fk_drift_results_run_drift_runs', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'id', name=op.f('pk_drift_results'))
    )
    op.create_index('ix_drift_results_project_run_segment', 'drift_results', ['project_id', 'run_id', 'segment_kind', 'segment_value'], unique=False)
    op.create_table('drift_baselines',
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('segment_kind', sa.String(length=16), server_default='', nullable=False),
    sa.Column('segment_value', sa.Text(), server_default='', nullable=False),
    sa.Column('start_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('end_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Text(), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_drift_baselines_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'id', name=op.f('pk_drift_baselines'))
    )
    op.create_index('uq_drift_baselines_project_segment', 'drift_baselines', ['project_id', 'segment_kind', 'segment_value'], unique=True)
    op.create_table('model_changes',
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('provider', sa.Text(), server_default='', nullable=False),
    sa.Column('request_model', sa.Text(), nullable=False),
    sa.Column('attribute', sa.String(length=32), nullable=False),
    sa.Column('old_value', sa.Text(), nullable=False),
    sa.Column('new_value', sa.Text(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_old_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('old_count', sa.BigInteger(), nullable=False),
    sa.Column('new_count', sa.BigInteger(), nullable=False),
    sa.Column('detected_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_model_changes_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'id', name=op.f('pk_model_changes'))
    )
    op.create_index('uq_model_changes_project_change', 'model_changes', ['project_id', 'request_model', 'attribute', 'old_value', 'new_value'], unique=True)
    op.create_index('ix_model_changes_project_changed', 'model_changes', ['project_id', 'changed_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_model_changes_project_changed', table_name='model_changes')
    op.drop_index('uq_model_changes_project_change', table_name='model_changes')
    op.drop_table('model_changes')
    op.drop_index('uq_drift_baselines_project_segment', table_name='drift_baselines')
    op.drop_table('drift_baselines')
    op.drop_index('ix_drift_results_project_run_segment', table_name='drift_results')
    op.drop_table('drift_results')
    op.drop_index('ix_drift_runs_project_started', table_name='drift_runs')
    op.drop_table('drift_runs')
