"""a failed attempt's traceback: runs.error_traceback, run_attempts.error_traceback

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("error_traceback", sa.Text(), nullable=True))
    op.add_column("run_attempts", sa.Column("error_traceback", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run_attempts") as batch:
        batch.drop_column("error_traceback")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("error_traceback")
