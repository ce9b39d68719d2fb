"""spans and usage rollups: leave a fifth of each page free, so re-pricing updates in place

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 01:00:00

Re-pricing rewrites a span's cost, source and price reference, and the cost of its rollup
cells; none of those columns is in an index, so PostgreSQL can keep the new row version on the
same page and skip every index (a HOT update) — but only if the page has room. Pages filled to
100 % at insert had none, so each re-priced span wrote a new entry into each of the eight
indexes of ``spans`` (two of them trigram GIN) and ~2.4 KB of WAL. With 20 % free, a job that
changes up to a quarter of a period's spans (one model's price, typically) stays HOT; ingest's
repeated upserts of the same hourly cell do too. The setting applies to pages written from now
on; ``VACUUM FULL`` (or pg_repack) applies it to existing ones.
"""

from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

TABLES = ('spans', 'usage_hourly', 'usage_daily', 'usage_monthly')


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET (fillfactor = 80)")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
