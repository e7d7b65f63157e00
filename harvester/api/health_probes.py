"""``/health?checks=collectors``: the collectors' probes (``Collector.check()``), cached with a TTL.

What is reported is the stored result of each probe (``harvester check``, a schedule entry's
``check:`` on a worker, or an earlier ``/health``). A probe with no result younger than
``HARVESTER_CHECK_TTL`` is made again here, in the API process (so it needs the collectors'
credentials too), all of them at once and within ``HARVESTER_HEALTH_TIMEOUT``; one that overruns is
stored as a ``timeout`` failure, so the next calls stay fast until the TTL passes. Concurrent calls
make each probe once: the later ones wait for it (within their own timeout) and read its result.
A probe's error is its failure category, never its message (``/health`` is public by default).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from harvester.app import Harvester
from harvester.execution.checks import CheckTarget, Key, plan_checks, probe_key, run_checks
from harvester.history.checks import CheckStore
from harvester.history.engine import utcnow
from harvester.schedule.overview import read_schedule_file

#: Share of the health timeout the probes made here may take (the rest: reading and storing).
PROBE_SHARE = 0.7


class ProbeCache:
    """The probes of one API process; :meth:`report` is what ``/health`` shows of them."""

    def __init__(self, hv: Harvester, clock: Callable[[], datetime] = utcnow) -> None:
        self.hv = hv
        self.clock = clock
        self._lock = threading.Lock()

    def report(self) -> tuple[bool, dict[str, Any]]:
        """(every probe passed, details): each probe's collector, entry, ok, error category, when."""
        hv = self.hv
        started = time.monotonic()
        loaded = read_schedule_file(hv.settings.schedule_file, hv.registry).schedule
        targets = plan_checks(hv.registry, loaded.entries if loaded is not None else ()).targets
        keys = [probe_key(hv.registry, target) for target in targets]
        store = CheckStore(hv.store)
        made = 0
        if self._lock.acquire(timeout=hv.settings.health_timeout):
            try:
                made = self._refresh(store, targets, keys, started)
            finally:
                self._lock.release()
        stored = store.latest({collector for collector, _ in keys})
        now = self.clock()
        ttl = timedelta(seconds=hv.settings.check_ttl)
        probes = [_shown(target, stored.get(key), now, ttl) for target, key in zip(targets, keys, strict=True)]
        return all(p["ok"] for p in probes), {"probes": probes, "made_now": made}

    def _refresh(self, store: CheckStore, targets: Sequence[CheckTarget], keys: list[Key], started: float) -> int:
        """Make the probes without a fresh result (within what is left of the timeout); how many."""
        settings = self.hv.settings
        stored = store.latest({collector for collector, _ in keys})
        oldest = self.clock() - timedelta(seconds=settings.check_ttl)
        stale = [t for t, k in zip(targets, keys, strict=True) if k not in stored or stored[k]["checked_at"] < oldest]
        left = settings.health_timeout * PROBE_SHARE - (time.monotonic() - started)
        if not stale or left <= 0:
            return 0
        store.record(run_checks(self.hv.registry, stale, left, clock=self.clock), "health")
        return len(stale)


def _shown(target: CheckTarget, row: dict[str, Any] | None, now: datetime, ttl: timedelta) -> dict[str, Any]:
    if row is None:  # never made and no time left to make it now
        return {"collector": target.collector, "entry": target.label, "ok": False, "error": "not_checked"}
    return {
        "collector": target.collector,
        "entry": target.label,
        "ok": row["ok"],
        "error": row["category"],
        "checked_at": row["checked_at"].isoformat(),
        "fresh": now - row["checked_at"] <= ttl,
        "failing_since": None if row["ok"] else row["changed_at"].isoformat(),
        "source": row["source"],
        "took_ms": round(row["duration"] * 1000, 1),
    }
