"""runs: the `expired` status and expiry time; run_attempts: CPU, memory and records of each attempt (issue 16)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

``expired`` is a new value of ``runs.status`` (a string column: no schema change). Runs recorded
before this revision never expire (``expires_at`` NULL) and have no resource figures.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("runs", sa.Column("cpu_seconds", sa.Float(), nullable=True))
    op.add_column("runs", sa.Column("peak_memory", sa.BigInteger(), nullable=True))
    op.add_column("run_attempts", sa.Column("records", sa.Integer(), nullable=True))
    op.add_column("run_attempts", sa.Column("cpu_seconds", sa.Float(), nullable=True))
    op.add_column("run_attempts", sa.Column("peak_memory", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run_attempts") as batch:
        batch.drop_column("peak_memory")
        batch.drop_column("cpu_seconds")
        batch.drop_column("records")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("peak_memory")
        batch.drop_column("cpu_seconds")
        batch.drop_column("expires_at")
