"""finance: daily rollups, latency distribution, re-pricing jobs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 18:40:00

``usage_hourly`` gains a latency histogram (calls per log-spaced bucket, see
``core.rollups.LATENCY_EDGES_MS``); ``usage_daily`` and ``usage_monthly`` hold the same cells
per UTC day and month. All are backfilled from the stored spans here, with the edges written out (a migration must not
depend on code that may change later).
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

#: A copy of core.rollups.LATENCY_EDGES_MS as of this revision.
EDGES = [float(f"{10 ** (k / 10):.4g}") for k in range(61)]
_DIMS = ("coalesce(provider, '') AS provider, "
         "coalesce(nullif(response_model, ''), request_model, '') AS model, "
         "coalesce(team, '') AS team, coalesce(feature, '') AS feature, "
         "coalesce(customer, '') AS customer, coalesce(user_id, '') AS user_id, "
         "coalesce(environment, '') AS environment, coalesce(service, '') AS service")
_GROUP = "provider, model, team, feature, customer, user_id, environment, service"


def _hist() -> str:
    edges = "ARRAY[" + ", ".join(repr(e) for e in EDGES) + "]::float8[]"
    counts = ", ".join(
        f"count(*) FILTER (WHERE width_bucket(duration_ms, {edges}) = {i})"
        for i in range(len(EDGES) + 1)
    )
    return f"ARRAY[{counts}]::bigint[]"


def _backfill(table: str, grain: str) -> str:
    return (
        f"INSERT INTO {table} (project_id, {grain}, " + _GROUP + ", calls, errors, input_tokens,"
        " output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost,"
        " unpriced_calls, latency_ms_sum, latency_hist) "
        f"SELECT project_id, {grain}, " + _GROUP + ", count(*), count(*) FILTER (WHERE status = 'error'),"
        " sum(coalesce(input_tokens, 0)), sum(coalesce(output_tokens, 0)),"
        " sum(coalesce(cache_read_tokens, 0)), sum(coalesce(cache_write_tokens, 0)),"
        " sum(coalesce(reasoning_tokens, 0)), coalesce(sum(cost), 0),"
        " count(*) FILTER (WHERE cost IS NULL), sum(duration_ms), " + _hist() + " "
        f"FROM (SELECT project_id, date_trunc('{grain}', start_time, 'UTC') AS {grain}, " + _DIMS + ","
        " status, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,"
        " reasoning_tokens, cost, duration_ms FROM spans WHERE kind IN ('llm', 'embedding')) s "
        f"GROUP BY project_id, {grain}, " + _GROUP
    )


def _hourly_backfill() -> str:
    return (
        "UPDATE usage_hourly u SET latency_hist = h.hist FROM ("
        "SELECT project_id, hour, " + _GROUP + ", " + _hist() + " AS hist "
        "FROM (SELECT project_id, date_trunc('hour', start_time, 'UTC') AS hour, " + _DIMS + ","
        " duration_ms FROM spans WHERE kind IN ('llm', 'embedding')) s "
        "GROUP BY project_id, hour, " + _GROUP + ") h "
        "WHERE (u.project_id, u.hour, u.provider, u.model, u.team, u.feature, u.customer,"
        " u.user_id, u.environment, u.service) = (h.project_id, h.hour, h.provider, h.model,"
        " h.team, h.feature, h.customer, h.user_id, h.environment, h.service)"
    )


def upgrade() -> None:
    op.add_column('usage_hourly', sa.Column('latency_hist', postgresql.ARRAY(sa.BigInteger()), server_default='{}', nullable=False))
    op.create_table('usage_daily',
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('day', sa.DateTime(timezone=True), nullable=False),
    sa.Column('provider', sa.Text(), nullable=False),
    sa.Column('model', sa.Text(), nullable=False),
    sa.Column('team', sa.Text(), nullable=False),
    sa.Column('feature', sa.Text(), nullable=False),
    sa.Column('customer', sa.Text(), nullable=False),
    sa.Column('user_id', sa.Text(), nullable=False),
    sa.Column('environment', sa.Text(), nullable=False),
    sa.Column('service', sa.Text(), nullable=False),
    sa.Column('calls', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('errors', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('input_tokens', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('output_tokens', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('cache_read_tokens', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('cache_write_tokens', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('reasoning_tokens', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('cost', sa.Numeric(precision=22, scale=10), server_default='0', nullable=False),
    sa.Column('unpriced_calls', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('latency_ms_sum', sa.Double(), server_default='0', nullable=False),
    sa.Column('latency_hist', postgresql.ARRAY(sa.BigInteger()), server_default='{}', nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_usage_daily_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'day', 'provider', 'model', 'team', 'feature', 'customer', 'user_id', 'environment', 'service', name=op.f('pk_usage_daily'))
    )
    op.create_table('usage_monthly',
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('month', sa.DateTime(timezone=True), nullable=False),
    sa.Column('provider', sa.Text(), nullable=False),
    sa.Column('model', sa.Text(), nullable=False),
    sa.Column('team', sa.Text(), nullable=False),
    sa.Column('feature', sa.Text(), nullable=False),
    sa.Column('customer', sa.Text(), nullable=False),
    sa.Column('user_id', sa.Text(), nullable=False),
    sa.Column('environment', sa.Text(), nullable=False),
    sa.Column('service', sa.Text(), nullable=False),
    sa.Column('calls', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('errors', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('input_tokens', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('output_tokens', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('cache_read_tokens', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('cache_write_tokens', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('reasoning_tokens', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('cost', sa.Numeric(precision=22, scale=10), server_default='0', nullable=False),
    sa.Column('unpriced_calls', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('latency_ms_sum', sa.Double(), server_default='0', nullable=False),
    sa.Column('latency_hist', postgresql.ARRAY(sa.BigInteger()), server_default='{}', nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_usage_monthly_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'month', 'provider', 'model', 'team', 'feature', 'customer', 'user_id', 'environment', 'service', name=op.f('pk_usage_monthly'))
    )
    op.create_table('repricing_jobs',
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='queued', nullable=False),
    sa.Column('reason', sa.Text(), server_default='', nullable=False),
    sa.Column('created_by', sa.Text(), server_default='', nullable=False),
    sa.Column('range_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('range_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('models', postgresql.ARRAY(sa.Text()), nullable=True),
    sa.Column('cursor_start_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cursor_trace_id', sa.String(length=32), nullable=True),
    sa.Column('cursor_span_id', sa.String(length=16), nullable=True),
    sa.Column('spans_scanned', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('spans_repriced', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('batches', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('cost_before', sa.Numeric(precision=22, scale=10), server_default='0', nullable=False),
    sa.Column('cost_after', sa.Numeric(precision=22, scale=10), server_default='0', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_repricing_jobs_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'id', name=op.f('pk_repricing_jobs'))
    )
    op.create_index('ix_repricing_jobs_project_open', 'repricing_jobs', ['project_id', 'id'], unique=False, postgresql_where=sa.text("status IN ('queued', 'running')"))
    op.execute(_hourly_backfill())
    op.execute(_backfill('usage_daily', 'day'))
    op.execute(_backfill('usage_monthly', 'month'))


def downgrade() -> None:
    op.drop_index('ix_repricing_jobs_project_open', table_name='repricing_jobs', postgresql_where=sa.text("status IN ('queued', 'running')"))
    op.drop_table('repricing_jobs')
    op.drop_table('usage_monthly')
    op.drop_table('usage_daily')
    op.drop_column('usage_hourly', 'latency_hist')
