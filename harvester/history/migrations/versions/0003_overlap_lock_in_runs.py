"""overlap lock held by the running run itself: runs.lock_key, unique among running runs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

RUNNING = sa.text("status = 'running'")


def upgrade() -> None:
    op.add_column("runs", sa.Column("lock_key", sa.String(length=255), nullable=True))
    op.create_index(
        "ux_runs_lock_key_running",
        "runs",
        ["lock_key"],
        unique=True,
        postgresql_where=RUNNING,
        sqlite_where=RUNNING,
    )
    op.drop_table("locks")


def downgrade() -> None:
    op.create_table(
        "locks",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_locks")),
    )
    op.drop_index("ux_runs_lock_key_running", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("lock_key")
