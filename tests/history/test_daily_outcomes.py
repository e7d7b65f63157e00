"""daily_outcomes: a collector's succeeded and failed runs per UTC day, within a window."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import update

from harvester.history.models import runs
from harvester.history.stats import daily_outcomes
from harvester.history.store import NewRun


def add(store, collector: str, status: str, queued_at: datetime) -> None:
    run_id = str(uuid.uuid4())
    store.create_runs([NewRun(run_id, collector, {}, "k", "cli")])
    with store.engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == run_id).values(status=status, queued_at=queued_at))


def test_days_count_verdicts_in_utc_and_leave_out_the_rest(store):
    day1 = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    day2 = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    for status in ("succeeded", "succeeded", "failed"):
        add(store, "c", status, day1)
    add(store, "c", "failed", day2)
    add(store, "c", "skipped", day2)  # says nothing about the collector
    add(store, "c", "running", day2)
    add(store, "other", "failed", day2)
    add(store, "c", "failed", day1 - timedelta(days=40))  # before the window
    days = daily_outcomes(store, "c", datetime(2026, 11, 1, tzinfo=UTC))
    assert [(d.day, d.succeeded, d.failed) for d in days] == [(date(2026, 11, 30), 2, 1), (date(2026, 12, 1), 0, 1)]
    assert days[0].success_rate == 2 / 3
    assert daily_outcomes(store, "none", datetime(2026, 11, 1, tzinfo=UTC)) == []
