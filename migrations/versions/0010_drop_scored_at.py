"""spans: drop scored_at and its partial index (the scoring queue replaced them)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 20:15:00

Scoring now claims rows of the narrow ``scoring_queue`` table that ingest fills in the same
transaction; marking the wide span row scored rewrote every index on it (about 1 ms a span),
and the partial index on ``scored_at IS NULL`` cost a write per span at ingest for nothing.
"""

from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_spans_project_unscored', table_name='spans', postgresql_where=sa.text('scored_at IS NULL'))
    op.drop_column('spans', 'scored_at')


def downgrade() -> None:
    op.add_column('spans', sa.Column('scored_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_spans_project_unscored', 'spans', ['project_id', 'ingested_at'], unique=False, postgresql_where=sa.text('scored_at IS NULL'))
