"""CheckStore: the latest result of each probe (``Collector.check()``), one row per collector + params.

Only the latest result is kept (probes run every few minutes for as long as harvester runs); the row
also says since when the probe has been passing or failing (``changed_at``) and how many failures in
a row it has seen (``failures``), which is what an alert needs to fire once per streak.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import case, select
from sqlalchemy.dialects import postgresql, sqlite

from harvester.history.engine import READ_ONLY, Database
from harvester.history.models import collector_checks

#: Who ran a probe: ``harvester check``, ``/health?checks=collectors`` or a worker for ``check:``.
CheckSource = Literal["cli", "health", "schedule"]


@dataclass(frozen=True)
class CheckResult:
    """One probe's outcome. ``params`` are redacted (secrets masked, references kept); ``detail`` is
    what ``check()`` returned, or the failure's ``Type: message`` with secrets masked; ``category``
    is the failure's :class:`~harvester.errors.FailureCategory` value (None when it passed)."""

    collector: str
    params_key: str
    label: str
    params: dict[str, Any]
    ok: bool
    category: str | None
    detail: str
    checked_at: datetime
    duration: float


class CheckStore:
    """The ``collector_checks`` table of a history database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
        self._read = db.engine.execution_options(**{READ_ONLY: True})

    def record(self, results: Sequence[CheckResult], source: CheckSource) -> None:
        """Upsert ``results`` as the latest of their probes, in one transaction."""
        if not results:
            return
        table = collector_checks
        rows = [
            {
                "collector": r.collector,
                "params_key": r.params_key,
                "label": r.label[:255],
                "params": r.params,
                "source": source,
                "ok": r.ok,
                "category": r.category,
                "detail": r.detail,
                "checked_at": r.checked_at,
                "duration": r.duration,
                "changed_at": r.checked_at,
                "failures": 0 if r.ok else 1,
            }
            for r in results
        ]
        statement = self._insert(table)
        new = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.collector, table.c.params_key],
            set_={
                **{name: new[name] for name in ("label", "params", "source", "ok", "category", "detail", "duration")},
                "checked_at": new.checked_at,
                "changed_at": case((table.c.ok == new.ok, table.c.changed_at), else_=new.checked_at),
                "failures": case((new.ok, 0), else_=table.c.failures + 1),
            },
        )
        with self.db.single() as conn:
            conn.execute(statement, sorted(rows, key=lambda r: (r["collector"], r["params_key"])))  # one lock order

    def latest(self, collectors: Collection[str] | None = None) -> dict[tuple[str, str], dict[str, Any]]:
        """The stored results by (collector, params key), of ``collectors`` (default: all)."""
        query = select(collector_checks)
        if collectors is not None:
            query = query.where(collector_checks.c.collector.in_(sorted(collectors)))
        with self._read.connect() as conn:
            return {(r["collector"], r["params_key"]): dict(r) for r in conn.execute(query).mappings()}
