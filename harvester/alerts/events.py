"""What alerts are about: incidents, their kinds, and the conditions observed each evaluation.

An **incident** is one thing that went wrong and is not yet right again, identified by its key.
Its kind, its key, and the events announcing it (when it opens / when it resolves):

- ``run_failed``: ``run_failed:<collector>:<params key>``; ``run_failed`` / ``recovered``.
- ``stale``: ``stale:<entry key>``; ``stale`` / ``fresh``.
- ``worker_gone``: ``worker_gone:<worker name>``; ``worker_gone`` / ``worker_back``.
- ``check_failed``: ``check_failed:<collector>[:<params key>]``; ``check_failed`` / ``check_passed``.

Each evaluation observes :class:`Condition` values (bad or fine, now); an incident is opened when
its condition turns bad and no incident with that key is open, and resolved when it is fine again:
one alert when it opens, one when it resolves, however many runs fail in between.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

IncidentKind = Literal["run_failed", "stale", "worker_gone", "check_failed"]
#: The event an alert announces: an incident opened, or resolved (and ``test``: a sample).
AlertEvent = Literal[
    "run_failed", "recovered", "stale", "fresh", "worker_gone", "worker_back", "check_failed", "check_passed", "test"
]

RESOLVED_EVENT: Mapping[IncidentKind, AlertEvent] = {
    "run_failed": "recovered",
    "stale": "fresh",
    "worker_gone": "worker_back",
    "check_failed": "check_passed",
}


@dataclass(frozen=True)
class Condition:
    """One thing observed now: bad (an incident should be open) or fine (it should not).

    - ``key``, ``kind``, ``subject``: which incident (see the table above).
    - ``summary``: one line for people (``github_stars failed: HTTP 503 from api.github.com``).
    - ``detail``: what the alert's JSON carries besides (run id, error category, last success...).
    - ``collector``, ``group``, ``entry_key``: where it is routed (see :mod:`harvester.alerts.routing`).
    """

    key: str
    kind: IncidentKind
    subject: str
    bad: bool
    summary: str
    at: datetime
    detail: Mapping[str, Any] = field(default_factory=dict)
    collector: str | None = None
    group: str | None = None
    entry_key: str | None = None


@dataclass(frozen=True)
class CheckStatus:
    """A collector's latest probe (``Collector.check()``), as periodic checks report it.

    Hand a source of these to the evaluator (``Sources(checks=...)``): a failed one opens a
    ``check_failed`` incident for the collector (and params), a passing one resolves it. ``label``
    names it in the alert (default: the collector)."""

    collector: str
    ok: bool
    message: str
    checked_at: datetime
    group: str | None = None
    params_key: str | None = None
    label: str | None = None

    @property
    def key(self) -> str:
        """``check_failed:<collector>[:<params key>]``: one incident per probed collector and params."""
        return f"check_failed:{self.collector}" + (f":{self.params_key}" if self.params_key else "")


@dataclass(frozen=True)
class OpenIncident:
    """An incident recorded as open: its id, key, kind, subject, when, and the targets it went to."""

    id: int
    key: str
    kind: IncidentKind
    subject: str
    opened_at: datetime
    targets: tuple[str, ...]
