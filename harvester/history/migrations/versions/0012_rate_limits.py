"""rate_limits: token buckets in the history database, and what a run waits for (issue 16)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("waiting_for", sa.String(length=255), nullable=True))
    op.create_table(
        "rate_limits",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("rate", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Float(), nullable=False),
        sa.Column("level_at", sa.Float(), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.Column("waits", sa.BigInteger(), nullable=False),
        sa.Column("wait_seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_rate_limits"),
    )


def downgrade() -> None:
    op.drop_table("rate_limits")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("waiting_for")
