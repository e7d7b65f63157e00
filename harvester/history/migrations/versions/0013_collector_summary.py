"""collector_summary: per collector and schedule entry, what ended how often, kept by the database
as runs end, so the overview, /health, /metrics and ``harvester list`` read it instead of every run

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02

A row per (collector, entry key, status, error category, shard) counts the runs that reached that
final status (``retrying`` rows count attempts that ended in a retry), their durations as histogram
buckets and their records, and names the newest of them. Triggers on ``runs`` add to it in the
transaction of the transition itself, whatever statement makes it: a finish, skip, cancel (a
parent's members with it), abandon, lost attempt, expiry, or a run recorded already ended. Counts
are lifetime counts: pruning runs leaves them (TRUNCATE of ``runs`` empties the summary on
PostgreSQL). ``shard`` (PostgreSQL: the backend's pid modulo 8; SQLite: 0) keeps two workers that
end runs of the same collector at once from queueing on one row's lock until their commits.

The statuses and the bucket bounds are this revision's; a new final status or bucket needs a new
revision that replaces the triggers (tests/history/test_summary.py pins them to the code).
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

#: Statuses counted: the final ones, and ``retrying`` (an attempt that ended in a retry).
FINAL = ("succeeded", "failed", "skipped", "cancelled", "expired")
COUNTED = (*FINAL, "retrying")
#: Upper bounds (seconds) of the duration buckets: harvester.history.models.DURATION_BUCKETS.
BOUNDS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0)
SHARDS = 8

KEY = ("collector", "entry_key", "status", "category", "shard")
BUCKETS = tuple(f"le_{i}" for i in range(len(BOUNDS)))
SUMS = ("runs", "timed", "duration_sum", *BUCKETS, "records")
COLUMNS = (*KEY, *SUMS, "last_run_id", "last_finished_at")


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _values(row: str, shard: str) -> str:
    """The summary row one run adds (``row``: NEW in a trigger); a retried attempt counts, untimed."""
    final = f"{row}.status <> 'retrying'"
    duration = f"CASE WHEN {final} THEN {row}.duration END"
    flags = [f"CASE WHEN {duration} <= {bound} THEN 1 ELSE 0 END" for bound in BOUNDS]
    return ", ".join(
        [
            f"{row}.collector",
            f"COALESCE({row}.entry_key, '')",
            f"{row}.status",
            f"COALESCE({row}.error_category, '')",
            shard,
            "1",
            f"CASE WHEN {duration} IS NULL THEN 0 ELSE 1 END",
            f"COALESCE({duration}, 0)",
            *flags,
            f"CASE WHEN {final} THEN COALESCE({row}.records, 0) ELSE 0 END",
            f"{row}.id",
            f"{row}.finished_at",
        ]
    )


def _upsert(row: str, shard: str) -> str:
    newer = (
        "excluded.last_finished_at IS NOT NULL AND (collector_summary.last_finished_at IS NULL "
        "OR excluded.last_finished_at >= collector_summary.last_finished_at)"
    )
    added = ", ".join(f"{c} = collector_summary.{c} + excluded.{c}" for c in SUMS)
    return (
        f"INSERT INTO collector_summary ({', '.join(COLUMNS)}) VALUES ({_values(row, shard)}) "
        f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {added}, "
        f"last_run_id = CASE WHEN {newer} THEN excluded.last_run_id ELSE collector_summary.last_run_id END, "
        f"last_finished_at = CASE WHEN {newer} THEN excluded.last_finished_at "
        "ELSE collector_summary.last_finished_at END"
    )


#: A run moved into a counted status from a status that is not final.
UPDATED = f"NEW.status <> OLD.status AND NEW.status IN ({_quoted(COUNTED)}) AND OLD.status NOT IN ({_quoted(FINAL)})"
INSERTED = f"NEW.status IN ({_quoted(COUNTED)})"


def _postgresql() -> None:
    op.execute(
        "CREATE OR REPLACE FUNCTION harvester_summarize_run() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN {_upsert('NEW', f'pg_backend_pid() % {SHARDS}')}; RETURN NULL; END $$"
    )
    op.execute(
        "CREATE OR REPLACE FUNCTION harvester_reset_summary() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN DELETE FROM collector_summary; RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER collector_summary_on_update AFTER UPDATE OF status ON runs FOR EACH ROW "
        f"WHEN ({UPDATED}) EXECUTE FUNCTION harvester_summarize_run()"
    )
    op.execute(
        "CREATE TRIGGER collector_summary_on_insert AFTER INSERT ON runs FOR EACH ROW "
        f"WHEN ({INSERTED}) EXECUTE FUNCTION harvester_summarize_run()"
    )
    op.execute(
        "CREATE TRIGGER collector_summary_on_truncate AFTER TRUNCATE ON runs "
        "FOR EACH STATEMENT EXECUTE FUNCTION harvester_reset_summary()"
    )


def _sqlite() -> None:
    op.execute(
        "CREATE TRIGGER collector_summary_on_update AFTER UPDATE OF status ON runs FOR EACH ROW "
        f"WHEN {UPDATED} BEGIN {_upsert('NEW', '0')}; END"
    )
    op.execute(
        "CREATE TRIGGER collector_summary_on_insert AFTER INSERT ON runs FOR EACH ROW "
        f"WHEN {INSERTED} BEGIN {_upsert('NEW', '0')}; END"
    )


def backfill_sql() -> str:
    """One INSERT ... SELECT: the ended runs grouped, each group's newest run, and retried attempts."""
    key = "collector, COALESCE(entry_key, '') AS entry_key, status, COALESCE(error_category, '') AS category"
    flags = ", ".join(
        f"SUM(CASE WHEN duration <= {bound} THEN 1 ELSE 0 END) AS {name}"
        for bound, name in zip(BOUNDS, BUCKETS, strict=True)
    )
    grouped = (
        f"SELECT {key}, COUNT(*) AS runs, COUNT(duration) AS timed, COALESCE(SUM(duration), 0) AS duration_sum, "
        f"{flags}, COALESCE(SUM(records), 0) AS records FROM runs WHERE status IN ({_quoted(FINAL)}) "
        "GROUP BY collector, COALESCE(entry_key, ''), status, COALESCE(error_category, '')"
    )
    ranked = (
        f"SELECT {key}, id, finished_at, ROW_NUMBER() OVER (PARTITION BY collector, COALESCE(entry_key, ''), "
        "status, COALESCE(error_category, '') ORDER BY finished_at DESC, id DESC) AS pos "
        f"FROM runs WHERE status IN ({_quoted(FINAL)})"
    )
    zeros = ", ".join("0" for _ in BOUNDS)
    retried = (
        "SELECT r.collector, COALESCE(r.entry_key, ''), 'retrying', COALESCE(a.error_category, ''), 0, "
        f"COUNT(*), 0, 0, {zeros}, 0, NULL, NULL FROM run_attempts a JOIN runs r ON r.id = a.run_id "
        "WHERE a.status = 'retrying' "
        "GROUP BY r.collector, COALESCE(r.entry_key, ''), COALESCE(a.error_category, '')"
    )
    picked = ", ".join(f"g.{c}" for c in SUMS)
    return (
        f"INSERT INTO collector_summary ({', '.join(COLUMNS)}) "
        f"SELECT g.collector, g.entry_key, g.status, g.category, 0, {picked}, n.id, n.finished_at "
        f"FROM ({grouped}) g JOIN ({ranked}) n ON n.pos = 1 AND n.collector = g.collector "
        "AND n.entry_key = g.entry_key AND n.status = g.status AND n.category = g.category "
        f"UNION ALL {retried}"
    )


def upgrade() -> None:
    op.create_table(
        "collector_summary",
        sa.Column("collector", sa.String(length=200), nullable=False),
        sa.Column("entry_key", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("runs", sa.BigInteger(), nullable=False),
        sa.Column("timed", sa.BigInteger(), nullable=False),
        sa.Column("duration_sum", sa.Float(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in BUCKETS),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("last_run_id", sa.String(length=36), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint(*KEY, name="pk_collector_summary"),
    )
    op.execute(backfill_sql())
    if op.get_bind().dialect.name == "postgresql":
        _postgresql()
    else:
        _sqlite()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS collector_summary_on_truncate ON runs")
        op.execute("DROP TRIGGER IF EXISTS collector_summary_on_insert ON runs")
        op.execute("DROP TRIGGER IF EXISTS collector_summary_on_update ON runs")
        op.execute("DROP FUNCTION IF EXISTS harvester_reset_summary()")
        op.execute("DROP FUNCTION IF EXISTS harvester_summarize_run()")
    else:
        op.execute("DROP TRIGGER IF EXISTS collector_summary_on_insert")
        op.execute("DROP TRIGGER IF EXISTS collector_summary_on_update")
    op.drop_table("collector_summary")
