"""The history store on each supported database: a fresh SQLite file, and the test run's PostgreSQL emptied."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from stores import fresh_store

from harvester.history.store import Store


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    yield from fresh_store(request, tmp_path, "runs, run_attempts, run_logs, collector_state, records, occurrences")
