"""The history store on each supported database: a fresh SQLite file, and the test run's PostgreSQL emptied."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from harvester.history.store import Store


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        made = Store(f"sqlite:///{tmp_path / 'h.db'}")
        made.upgrade()
    else:
        made = Store(request.getfixturevalue("postgres_url"))
        with made.engine.begin() as conn:
            conn.execute(text("TRUNCATE runs, run_attempts, run_logs, collector_state, records, occurrences"))
    yield made
    made.close()
