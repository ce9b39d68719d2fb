"""traces: the spans' teams, features, customers and providers, and a duration index

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 22:00:00

The trace list filtered by a span-level attribute (team, feature, customer, provider) was a
semi-join into each trace's spans, walking traces newest first until a page was full: a value
on 0.3 % of the spans (one customer of 300) cost half a second at 2 M spans. The summary row now
carries every distinct value its spans brought (arrays, as ``models`` and ``tags`` are, so a
trace whose spans name two customers matches either), behind one GIN index. The sort by
duration sorted every trace; an index on ``(project, end_time - start_time, trace_id)``
serves it and its keyset cursor. The time index carries each trace's end time and error count,
so the Overview's trace statistics of a week are an index-only scan. Existing rows are
backfilled from their spans.
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

#: Summary column → span column it gathers.
ATTRIBUTION = {'teams': 'team', 'features': 'feature', 'customers': 'customer', 'providers': 'provider'}


def _aggregate(span_column: str) -> str:
    return (f"coalesce(array_agg(DISTINCT {span_column} ORDER BY {span_column}) "
            f"FILTER (WHERE {span_column} <> ''), '{{}}')")


def upgrade() -> None:
    for column in ATTRIBUTION:
        op.add_column('traces', sa.Column(column, postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False))
    # One grouped pass over the spans (sorted or hashed in memory, not spilled in 4 MB pieces).
    op.execute("SET LOCAL work_mem = '256MB'")
    gathered = ', '.join(f'{_aggregate(span)} AS {summary}' for summary, span in ATTRIBUTION.items())
    assigned = ', '.join(f'{summary} = s.{summary}' for summary in ATTRIBUTION)
    found = ' OR '.join(f"s.{summary} <> '{{}}'" for summary in ATTRIBUTION)
    op.execute(
        f'UPDATE traces AS t SET {assigned} FROM ('
        f'SELECT project_id, trace_id, {gathered} FROM spans GROUP BY project_id, trace_id'
        f') AS s WHERE t.project_id = s.project_id AND t.trace_id = s.trace_id AND ({found})'
    )
    op.create_index('ix_traces_project_attribution', 'traces', ['project_id', *ATTRIBUTION], unique=False, postgresql_using='gin')
    op.create_index('ix_traces_project_duration', 'traces', ['project_id', sa.literal_column('(end_time - start_time)'), 'trace_id'], unique=False)
    # The Overview's trace count, error count and latency percentiles read only the index.
    op.drop_index('ix_traces_project_start', table_name='traces')
    op.create_index('ix_traces_project_start', 'traces', ['project_id', sa.literal_column('start_time DESC')], unique=False, postgresql_include=['end_time', 'error_count'])


def downgrade() -> None:
    op.drop_index('ix_traces_project_start', table_name='traces')
    op.create_index('ix_traces_project_start', 'traces', ['project_id', sa.literal_column('start_time DESC')], unique=False)
    op.drop_index('ix_traces_project_duration', table_name='traces')
    op.drop_index('ix_traces_project_attribution', table_name='traces', postgresql_using='gin')
    for column in reversed(ATTRIBUTION):
        op.drop_column('traces', column)
