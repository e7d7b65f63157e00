"""The check store on each supported database: a fresh SQLite file, and the test run's PostgreSQL emptied."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from stores import fresh_store

from harvester.history.store import Store


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    yield from fresh_store(request, tmp_path, "collector_checks")


@pytest.fixture
def hang() -> Iterator[None]:
    """``probe_hangs`` hangs until the test ends (then its abandoned thread ends too)."""
    from probe_collectors import RELEASE

    RELEASE.clear()
    yield
    RELEASE.set()


@pytest.fixture
def probe_stack(stack):
    """The ``stack`` fixture with no probe result of an earlier test (its PostgreSQL lives as long as
    the test session), and the probe collectors registered in its processes."""
    with stack.hv.store.engine.begin() as conn:
        conn.execute(text("DELETE FROM collector_checks"))
    stack.env["HARVESTER_COLLECTORS"] = "probe_collectors,sample_collectors"
    return stack
