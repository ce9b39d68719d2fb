"""quality: scorer settings, dead letters, drift, judge

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 18:40:00
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
