"""RunLogStore: the lines each attempt of a run logged, appended in batches while it runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from harvester.history.engine import Database
from harvester.history.models import run_logs


@dataclass(frozen=True)
class LogLine:
    """One captured log record, as stored: already redacted and bounded."""

    logged_at: datetime
    level: str
    logger: str
    message: str


class RunLogStore(Database):
    def append_logs(self, run_id: str, attempt: int, lines: Sequence[LogLine]) -> None:
        """Store ``lines`` of one attempt, in order, in one statement."""
        if not lines:
            return
        rows = [
            {
                "run_id": run_id,
                "attempt": attempt,
                "logged_at": line.logged_at,
                "level": line.level,
                "logger": line.logger[:255],
                "message": line.message,
            }
            for line in lines
        ]
        with self.single() as conn:
            conn.execute(insert(run_logs), rows)

    def run_logs(self, run_id: str, *, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        """A run's log lines with an id above ``after`` (a cursor: the last id seen), oldest first."""
        query = (
            select(run_logs)
            .where(run_logs.c.run_id == run_id, run_logs.c.id > after)
            .order_by(run_logs.c.id)
            .limit(limit)
        )
        with self._read.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]
