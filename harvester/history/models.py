"""Tables of the run history, run logs, collector state, emitted records and schedule occurrences (SQLAlchemy Core)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone on its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if not isinstance(value, datetime):
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("collector", String(200), nullable=False),
    Column("params", JSON, nullable=False),
    Column("params_key", String(64), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempt", Integer, nullable=False, default=0),
    Column("queued_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime),
    Column("attempt_started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("heartbeat_at", UTCDateTime),
    Column("duration", Float),
    Column("records", Integer, nullable=False, default=0),
    Column("result", JSON),
    Column("error_category", String(32)),
    Column("error_phase", String(32)),
    Column("error_message", Text),
    # The failed attempt's traceback, bounded, secrets masked (harvester.failure_text).
    Column("error_traceback", Text),
    Column("task_id", String(64)),
    Column("parent_run_id", String(36)),
    Column("worker", String(255)),
    Column("progress_done", Integer),
    Column("progress_total", Integer),
    # Fan-out: a parent's number of members (NULL for other runs); a member's position among them.
    Column("members", Integer),
    Column("member_index", Integer),
    # Overlap protection: collector + params key of a run that checks overlap. Unique among
    # running and waiting runs, so the claim that makes a run `running` is also the one that takes the lock.
    Column("lock_key", String(255)),
    # The run row is the record of what must run: a queued or retrying run is due at next_attempt_at
    # (the sweeper re-sends it once overdue), rebuilt from these columns and its params.
    Column("next_attempt_at", UTCDateTime),
    Column("queue", String(200)),
    Column("overlap", String(8)),
    Column("force", Boolean, nullable=False, default=False, server_default=false()),
    # A scheduled run: its schedule entry (the occurrence key: group, collector, params, schedule),
    # its group, and the group's batch (ids sort by when the batch was made). NULL for other runs.
    Column("schedule_group", String(200)),
    Column("entry_key", String(255)),
    Column("batch_id", String(64)),
    # What a running run waits for now (``rate limit github``); NULL while it works (harvester.ratelimit).
    Column("waiting_for", String(255)),
    # Expiry: a run not started by then is recorded `expired` and never runs (NULL: never expires).
    Column("expires_at", UTCDateTime),
    # The last attempt's resource use (the earlier ones are in run_attempts): CPU seconds (user +
    # system) and peak resident memory in bytes of the process that ran it (harvester.execution.resources).
    Column("cpu_seconds", Float),
    Column("peak_memory", BigInteger),
    Index(None, "collector", "queued_at"),
    # An entry's last success, a group's newest batch and that batch's runs: index seeks, however long the history.
    Index(None, "entry_key", "status", "finished_at"),
    Index(None, "schedule_group", "batch_id"),
    Index(None, "batch_id"),  # the runs of one backfill
    Index(None, "status", "next_attempt_at"),
    Index(None, "status", "heartbeat_at"),
    Index(None, "task_id"),
    Index(None, "parent_run_id"),
    Index(None, "queued_at"),
    Index(
        "ux_runs_lock_key_running",
        "lock_key",
        unique=True,
        postgresql_where=text("status IN ('running', 'waiting')"),
        sqlite_where=text("status IN ('running', 'waiting')"),
    ),
)

run_attempts = Table(
    "run_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(36), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("worker", String(255)),
    Column("error_category", String(32)),
    Column("error_message", Text),
    Column("error_traceback", Text),
    Column("retry_in", Float),
    Column("records", Integer),
    Column("cpu_seconds", Float),
    Column("peak_memory", BigInteger),
    Index(None, "run_id", "attempt"),
)

#: What a run logged (the collector's logger, and the libraries it calls), per attempt, in order.
run_logs = Table(
    "run_logs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(36), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("logged_at", UTCDateTime, nullable=False),
    Column("level", String(10), nullable=False),
    Column("logger", String(255), nullable=False),
    Column("message", Text, nullable=False),
    Index(None, "run_id", "id"),
)

collector_state = Table(
    "collector_state",
    metadata,
    Column("collector", String(200), primary_key=True),
    Column("params_key", String(64), primary_key=True),
    Column("data", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("run_id", String(36)),
)

records = Table(
    "records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("collector", String(200), nullable=False),
    Column("key", String(512), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("run_id", String(36)),
    UniqueConstraint("collector", "key"),
    Index(None, "collector", "last_seen", "id"),
)

occurrences = Table(
    "occurrences",
    metadata,
    Column("entry_key", String(255), primary_key=True),
    Column("due_at", UTCDateTime, primary_key=True),
    Column("dispatched_at", UTCDateTime, nullable=False),
    Column("run_id", String(36)),
    Column("note", Text),
    Index(None, "dispatched_at"),
)

#: The alert evaluator reads the runs that ended since its last pass (harvester.alerts.evaluator).
Index("ix_runs_finished_at", runs.c.finished_at)

#: Alerts (harvester.alerts): one row per incident (one thing wrong until it is right again). At most
#: one open incident per key, so two schedulers evaluating at once open it once.
alert_incidents = Table(
    "alert_incidents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(255), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("summary", Text, nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime),
    Column("detail", JSON, nullable=False),
    Column("targets", JSON, nullable=False),
    Index(
        "ux_alert_incidents_key_open",
        "key",
        unique=True,
        postgresql_where=text("resolved_at IS NULL"),
        sqlite_where=text("resolved_at IS NULL"),
    ),
    Index(None, "opened_at"),
)

#: The outbox: one alert to one target (an incident opened or resolved, or a test), written with the
#: incident's change in one transaction and sent by the delivery loop until delivered or given up.
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("incident_id", Integer, ForeignKey("alert_incidents.id", ondelete="CASCADE")),
    Column("event", String(32), nullable=False),
    Column("target", String(100), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("next_attempt_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("last_error", Text),
    Index(None, "status", "next_attempt_at"),
    Index(None, "incident_id"),
    Index(None, "created_at"),
)

#: Every attempt to deliver an alert: when, how long, and the target's answer.
alert_attempts = Table(
    "alert_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", String(36), ForeignKey("alert_deliveries.id", ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("duration", Float, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("error", Text),
    Index(None, "delivery_id", "attempt"),
)

#: The latest result of each probe (``Collector.check()``) per collector + params key: what
#: ``harvester check``, ``/health?checks=collectors`` and scheduled checks wrote last.
collector_checks = Table(
    "collector_checks",
    metadata,
    Column("collector", String(200), primary_key=True),
    Column("params_key", String(64), primary_key=True),
    Column("label", String(255), nullable=False),
    Column("params", JSON, nullable=False),
    Column("source", String(16), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("category", String(32)),
    Column("detail", Text, nullable=False),
    Column("checked_at", UTCDateTime, nullable=False),
    Column("duration", Float, nullable=False),
    # When ``ok`` last changed (the start of the current streak), and the failures in a row: an
    # alert names when a probe started failing and fires once per streak.
    Column("changed_at", UTCDateTime, nullable=False),
    Column("failures", Integer, nullable=False),
)

#: Upper bounds (seconds) of the run duration histogram (``/metrics`` and ``collector_summary``).
DURATION_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0)

#: What ended how often, per collector, schedule entry ('' for none), status, error category ('' for
#: none) and shard: kept by triggers on ``runs`` (migration 0013) in each transition's transaction,
#: so reads cost O(collectors), not O(runs). ``le_<i>``: runs whose duration <= DURATION_BUCKETS[i].
collector_summary = Table(
    "collector_summary",
    metadata,
    Column("collector", String(200), primary_key=True),
    Column("entry_key", String(255), primary_key=True),
    Column("status", String(16), primary_key=True),
    Column("category", String(32), primary_key=True),
    Column("shard", Integer, primary_key=True),
    Column("runs", BigInteger, nullable=False),
    Column("timed", BigInteger, nullable=False),
    Column("duration_sum", Float, nullable=False),
    *(Column(f"le_{i}", BigInteger, nullable=False) for i in range(len(DURATION_BUCKETS))),
    Column("records", BigInteger, nullable=False),
    Column("last_run_id", String(36)),
    Column("last_finished_at", UTCDateTime),
)

#: One token bucket per named rate limit, shared by every worker (when the broker is not Redis):
#: its level as of ``level_at`` (Unix seconds), and what ``/metrics`` counts of it.
rate_limits = Table(
    "rate_limits",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("rate", String(64), nullable=False),
    Column("level", Float, nullable=False),
    Column("level_at", Float, nullable=False),
    Column("tokens", BigInteger, nullable=False),
    Column("waits", BigInteger, nullable=False),
    Column("wait_seconds", Float, nullable=False),
)
