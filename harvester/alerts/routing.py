"""Which targets an incident goes to: the ``alerts:`` key of the schedule, else the default targets.

- An incident of a schedule entry (a stale entry, a failed scheduled run) goes to that entry's targets.
- An incident of a collector (a run by hand, a failed check) goes to the targets of every entry that
  runs the collector, or the default targets when none does.
- A worker's goes to the default targets.

An entry's targets are its task's ``alerts:``, else its group's, else the default targets
(``HARVESTER_ALERT_DEFAULT_TARGETS``, or every target when that is unset); ``alerts: []`` silences it.
A name with no target in the settings is left out, with one ERROR line naming it.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence

from harvester.alerts.events import Condition
from harvester.schedule.entries import ScheduleEntry

log = logging.getLogger(__name__)


class Router:
    """Routes conditions to target names (``known``: the configured targets)."""

    def __init__(self, known: Collection[str], default: Sequence[str] | None = None) -> None:
        self.known = frozenset(known)
        self.default = tuple(known) if default is None else tuple(default)
        self._warned: set[str] = set()

    def route(self, condition: Condition, entries: Mapping[str, ScheduleEntry]) -> tuple[str, ...]:
        """Target names for ``condition``; ``entries``: the enabled schedule entries by entry key."""
        entry = entries.get(condition.entry_key or "")
        if entry is not None:
            return self._known(self._of(entry))
        if condition.collector is None:
            return self._known(self.default)
        runs_it = [e for e in entries.values() if e.collector == condition.collector]
        if not runs_it:
            return self._known(self.default)
        return self._known(name for e in runs_it for name in self._of(e))

    def _of(self, entry: ScheduleEntry) -> tuple[str, ...]:
        return self.default if entry.alerts is None else entry.alerts

    def _known(self, names: Iterable[str]) -> tuple[str, ...]:
        found = []
        for name in dict.fromkeys(names):
            if name in self.known:
                found.append(name)
            elif name not in self._warned:
                self._warned.add(name)
                log.error(
                    "alert target %r is named in the schedule but not defined in HARVESTER_ALERT_TARGETS "
                    "(defined: %s); its alerts go nowhere",
                    name,
                    ", ".join(sorted(self.known)) or "none",
                )
        return tuple(sorted(found))
