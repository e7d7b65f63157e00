"""records: an index for a collector's records, last changed first (the records view and API)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_records_collector_last_seen_id", "records", ["collector", "last_seen", "id"])


def downgrade() -> None:
    op.drop_index("ix_records_collector_last_seen_id", table_name="records")
