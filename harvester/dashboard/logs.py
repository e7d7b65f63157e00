"""The run page's log lines: the newest few hundred of a run (one bounded query on the
``(run_id, id)`` index), oldest first, and how many there are in all when that is more."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from harvester.history.engine import READ_ONLY
from harvester.history.models import run_logs
from harvester.history.store import Store

#: How many log lines the run page shows: the newest ones (the CLI and the API give them all).
LOG_LINES = 300


@dataclass(frozen=True)
class RunLogView:
    lines: list[dict[str, Any]]
    total: int

    @property
    def more(self) -> bool:
        return self.total > len(self.lines)


def latest_logs(store: Store, run_id: str, limit: int = LOG_LINES) -> RunLogView:
    """The newest ``limit`` lines of ``run_id``, oldest first; counts them all only when there are more."""
    reader = store.engine.execution_options(**{READ_ONLY: True})
    newest = select(run_logs).where(run_logs.c.run_id == run_id).order_by(run_logs.c.id.desc()).limit(limit + 1)
    with reader.connect() as conn:
        rows = [dict(r) for r in conn.execute(newest).mappings()]
        total = len(rows)
        if total > limit:
            count = select(func.count()).select_from(run_logs).where(run_logs.c.run_id == run_id)
            total = int(conn.execute(count).scalar_one())
    lines = rows[:limit]
    lines.reverse()
    return RunLogView(lines, total)
