"""quality: scoring queue, scorer settings, rescore requests, dead letters, task attempts, lag

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 18:40:00

New spans wait for scoring in ``scoring_queue`` (the ingest transaction adds them); scorers
are sampled per project (``scorer_settings``); a new scorer version is rolled over a
range on demand (``rescore_requests``); a span a scorer cannot score is dead-lettered
(``dead_letters``), a task that keeps killing its worker too (``task_attempts``); the
ingest-to-score lag is kept as histogram buckets (``scoring_lag``).
"""

from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def _project_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f(f'fk_{table}_project_id_projects'), ondelete='CASCADE')


def upgrade() -> None:
    op.create_table('scoring_queue',
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('trace_id', sa.String(length=32), nullable=False),
    sa.Column('span_id', sa.String(length=16), nullable=False),
    sa.Column('ingested_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    _project_fk('scoring_queue'),
    sa.PrimaryKeyConstraint('project_id', 'trace_id', 'span_id', name=op.f('pk_scoring_queue'))
    )
    op.create_index('ix_scoring_queue_project_ingested', 'scoring_queue', ['project_id', 'ingested_at'], unique=False)
    # Spans stored before the queue existed and never scored wait in it too.
    op.execute(
        "INSERT INTO scoring_queue (project_id, trace_id, span_id, ingested_at) "
        "SELECT project_id, trace_id, span_id, ingested_at FROM spans WHERE scored_at IS NULL"
    )
    op.create_table('scorer_settings',
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('scorer', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('sample_rate', sa.Double(), server_default=sa.text('1.0'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('sample_rate >= 0 AND sample_rate <= 1', name=op.f('ck_scorer_settings_rate')),
    _project_fk('scorer_settings'),
    sa.PrimaryKeyConstraint('project_id', 'scorer', name=op.f('pk_scorer_settings'))
    )
    op.create_table('rescore_requests',
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('scorer', sa.Text(), nullable=False),
    sa.Column('start_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('end_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('scorer_version', sa.Text(), nullable=True),
    sa.Column('cursor_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cursor_trace_id', sa.String(length=32), nullable=True),
    sa.Column('cursor_span_id', sa.String(length=16), nullable=True),
    sa.Column('spans_done', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('scores_written', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('requested_by', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('end_time > start_time', name=op.f('ck_rescore_requests_range')),
    _project_fk('rescore_requests'),
    sa.PrimaryKeyConstraint('project_id', 'id', name=op.f('pk_rescore_requests'))
    )
    op.create_index('ix_rescore_requests_project_open', 'rescore_requests', ['project_id', 'id'], unique=False, postgresql_where=sa.text("status IN ('pending', 'running')"))
    op.create_table('dead_letters',
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('trace_id', sa.String(length=32), nullable=False),
    sa.Column('span_id', sa.String(length=16), nullable=False),
    sa.Column('scorer', sa.Text(), nullable=False),
    sa.Column('scorer_version', sa.Text(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    _project_fk('dead_letters'),
    sa.PrimaryKeyConstraint('project_id', 'id', name=op.f('pk_dead_letters'))
    )
    op.create_index('uq_dead_letters_span', 'dead_letters', ['project_id', 'trace_id', 'span_id', 'scorer', 'scorer_version'], unique=True)
    op.create_index('ix_dead_letters_project_created', 'dead_letters', ['project_id', 'created_at'], unique=False)
    op.create_table('task_attempts',
    sa.Column('task_id', sa.Text(), nullable=False),
    sa.Column('task_name', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('dead_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('task_id', name=op.f('pk_task_attempts'))
    )
    op.create_index('ix_task_attempts_last_seen', 'task_attempts', ['last_seen_at'], unique=False)
    op.create_table('scoring_lag',
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('bucket_le', sa.Double(), nullable=False),
    sa.Column('spans', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('seconds_sum', sa.Double(), server_default='0', nullable=False),
    _project_fk('scoring_lag'),
    sa.PrimaryKeyConstraint('project_id', 'bucket_le', name=op.f('pk_scoring_lag'))
    )


def downgrade() -> None:
    op.drop_index('ix_scoring_queue_project_ingested', table_name='scoring_queue')
    op.drop_table('scoring_queue')
    op.drop_table('scoring_lag')
    op.drop_index('ix_task_attempts_last_seen', table_name='task_attempts')
    op.drop_table('task_attempts')
    op.drop_index('ix_dead_letters_project_created', table_name='dead_letters')
    op.drop_index('uq_dead_letters_span', table_name='dead_letters')
    op.drop_table('dead_letters')
    op.drop_index('ix_rescore_requests_project_open', table_name='rescore_requests')
    op.drop_table('rescore_requests')
    op.drop_table('scorer_settings')
