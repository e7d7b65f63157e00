"""runs: the schedule entry, group and group batch of a scheduled run, indexed for per-entry freshness
and each group's last batch

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

Runs recorded before this revision carry no entry, group or batch. Their scheduled successes get
the entry key ``before-0008:<collector>:<params key>``, so that until an entry has a success of its own,
its freshness counts them as before (any scheduled run of its collector and params), in one index seek.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("schedule_group", sa.String(length=200), nullable=True))
    op.add_column("runs", sa.Column("entry_key", sa.String(length=255), nullable=True))
    op.add_column("runs", sa.Column("batch_id", sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE runs SET entry_key = 'before-0008:' || collector || ':' || params_key "
        "WHERE trigger = 'schedule' AND status = 'succeeded'"
    )
    op.create_index("ix_runs_entry_key_status_finished_at", "runs", ["entry_key", "status", "finished_at"])
    op.create_index("ix_runs_schedule_group_batch_id", "runs", ["schedule_group", "batch_id"])


def downgrade() -> None:
    op.drop_index("ix_runs_schedule_group_batch_id", table_name="runs")
    op.drop_index("ix_runs_entry_key_status_finished_at", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("batch_id")
        batch.drop_column("entry_key")
        batch.drop_column("schedule_group")
