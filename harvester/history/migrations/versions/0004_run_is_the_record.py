"""the run row is the record of what must run: next_attempt_at, the options to re-send it, `waiting`

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

RUNNING = sa.text("status = 'running'")
LOCKING = sa.text("status IN ('running', 'waiting')")


def upgrade() -> None:
    op.add_column("runs", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("runs", sa.Column("queue", sa.String(length=200), nullable=True))
    op.add_column("runs", sa.Column("overlap", sa.String(length=8), nullable=True))
    op.add_column("runs", sa.Column("force", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index("ix_runs_status_next_attempt_at", "runs", ["status", "next_attempt_at"])
    # A fan-out parent waiting for its members was `running` with no heartbeat: now it says so.
    op.execute(
        "UPDATE runs SET status = 'waiting' WHERE status = 'running' AND members IS NOT NULL AND heartbeat_at IS NULL"
    )
    # Runs still to run are due: a queued one since it was queued, a retrying one from now (its backoff
    # is not recorded on the row; its countdown message is still on its way). Recovery re-sends any
    # whose message went missing once overdue.
    op.execute("UPDATE runs SET next_attempt_at = queued_at WHERE status = 'queued'")
    due = sa.table("runs", sa.column("status", sa.String), sa.column("next_attempt_at", sa.DateTime(timezone=True)))
    op.get_bind().execute(sa.update(due).where(due.c.status == "retrying").values(next_attempt_at=datetime.now(UTC)))
    op.drop_index("ux_runs_lock_key_running", table_name="runs")
    op.create_index(
        "ux_runs_lock_key_running", "runs", ["lock_key"], unique=True, postgresql_where=LOCKING, sqlite_where=LOCKING
    )
    op.create_index("ix_occurrences_dispatched_at", "occurrences", ["dispatched_at"])


def downgrade() -> None:
    op.drop_index("ix_occurrences_dispatched_at", table_name="occurrences")
    op.drop_index("ux_runs_lock_key_running", table_name="runs")
    op.execute("UPDATE runs SET status = 'running' WHERE status = 'waiting'")
    op.create_index(
        "ux_runs_lock_key_running", "runs", ["lock_key"], unique=True, postgresql_where=RUNNING, sqlite_where=RUNNING
    )
    op.drop_index("ix_runs_status_next_attempt_at", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("force")
        batch.drop_column("overlap")
        batch.drop_column("queue")
        batch.drop_column("next_attempt_at")
