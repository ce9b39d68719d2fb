"""search and filter indexes for the read API

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 16:00:00

Trigram GIN indexes (led by the project through btree_gin) make substring search in prompts
and completions an index scan in any script; btree indexes on traces led by (project, value,
time) answer the trace list's selective filters in time order, and (project, value, trace) on
spans make the list's span-level filters (team, feature, customer, provider) index-only probes.
"""

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

TRGM = ('input_text', 'output_text')
TRACE_BTREE = {
    'ix_traces_project_user_start': ['project_id', 'user_id', 'start_time'],
    'ix_traces_project_session_start': ['project_id', 'session_id', 'start_time'],
    'ix_traces_project_name_start': ['project_id', 'name', 'start_time'],
    'ix_traces_project_cost': ['project_id', 'cost'],
}
# (project, value, trace): the trace list's semi-join into spans probes these index-only.
SPAN_BTREE = {
    f'ix_spans_project_{column}_trace': ['project_id', column, 'trace_id']
    for column in ('team', 'feature', 'customer', 'provider')
}


def upgrade() -> None:
    op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    op.execute('CREATE EXTENSION IF NOT EXISTS btree_gin')
    for column in TRGM:
        op.create_index(
            f'ix_spans_project_{column}_trgm', 'spans', ['project_id', column],
            postgresql_using='gin', postgresql_ops={column: 'gin_trgm_ops'},
        )
    op.create_index(
        'ix_traces_project_name_trgm', 'traces', ['project_id', 'name'],
        postgresql_using='gin', postgresql_ops={'name': 'gin_trgm_ops'},
    )
    for name, columns in TRACE_BTREE.items():
        op.create_index(name, 'traces', columns)
    op.create_index('ix_traces_project_errors_start', 'traces', ['project_id', 'start_time'],
                    postgresql_where='error_count > 0')
    op.create_index('ix_traces_project_models_tags', 'traces', ['project_id', 'models', 'tags'],
                    postgresql_using='gin')
    for name, columns in SPAN_BTREE.items():
        op.create_index(name, 'spans', columns)


def downgrade() -> None:
    for name in SPAN_BTREE:
        op.drop_index(name, table_name='spans')
    op.drop_index('ix_traces_project_models_tags', table_name='traces')
    op.drop_index('ix_traces_project_errors_start', table_name='traces')
    for name in TRACE_BTREE:
        op.drop_index(name, table_name='traces')
    op.drop_index('ix_traces_project_name_trgm', table_name='traces')
    for column in TRGM:
        op.drop_index(f'ix_spans_project_{column}_trgm', table_name='spans')
    # The extensions stay: other databases objects may use them, and they cost nothing idle.
