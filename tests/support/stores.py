"""A history store on each supported database, for the ``store`` fixtures of several test folders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from harvester.history.store import Store


def fresh_store(request: pytest.FixtureRequest, tmp_path: Path, tables: str) -> Iterator[Store]:
    """A fresh SQLite file (``request.param == "sqlite"``) or the test run's PostgreSQL with
    ``tables`` emptied (``TRUNCATE tables``); closed when the test ends."""
    if request.param == "sqlite":
        made = Store(f"sqlite:///{tmp_path / 'h.db'}")
        made.upgrade()
    else:
        made = Store(request.getfixturevalue("postgres_url"))
        with made.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables}"))
    yield made
    made.close()
