"""drift: runs, results and model changes

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 18:40:00
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
