"""runs: an index on batch_id, so the runs of one backfill (``backfill:...``) are an index seek

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

A backfill is one batch of runs (``runs.batch_id``, from 0008); the dashboard's backfill page and
``GET /api/v1/runs?batch=`` read them by that id alone, which 0008's (schedule_group, batch_id)
index does not serve. No table of its own: what a backfill is follows from its runs.
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_runs_batch_id", "runs", ["batch_id"])


def downgrade() -> None:
    op.drop_index("ix_runs_batch_id", table_name="runs")
