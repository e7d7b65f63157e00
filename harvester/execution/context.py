"""StoreContext: what a collector's ``state``, ``emit()`` and ``progress()`` talk to during a run."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from harvester.collector import Phase
from harvester.history.data import StateWrite
from harvester.history.rate_limits import DatabaseBucket, set_waiting_for
from harvester.history.store import Store
from harvester.ratelimit.bucket import Rate
from harvester.ratelimit.limiter import Limiter

ProgressCallback = Callable[[int, int | None], None]


class StoreContext:
    """Per-run context backed by the history store.

    State is read lazily (a collector that never touches ``self.state`` costs no query) and
    written by the runner only when the run succeeds and the state changed. Progress reaches
    the database at most every ``progress_every`` seconds, plus the final report. ``params_key`` is
    the key state is stored under: ``Collector.state_params_key()`` (its ``state_key`` params).
    """

    def __init__(
        self,
        store: Store,
        collector: str,
        params_key: str,
        run_id: str,
        *,
        on_progress: ProgressCallback | None = None,
        progress_every: float = 1.0,
        limiter: Limiter | None = None,
    ) -> None:
        self.store = store
        self.collector = collector
        self.params_key = params_key
        self.run_id: str | None = run_id
        self.records_emitted = 0
        self.phase_times: dict[str, float] = {}
        self._state: MutableMapping[str, Any] | None = None
        self._state_read: tuple[Any, int | None] | None = None
        self._on_progress = on_progress
        self._progress_every = progress_every
        self._progress_written = 0.0
        self._phase_started: tuple[str, float] | None = None
        self._limiter = limiter

    @property
    def state(self) -> MutableMapping[str, Any]:
        if self._state is None:
            data, version = self.store.load_state(self.collector, self.params_key)
            self._state_read = (copy.deepcopy(data), version)
            self._state = data if isinstance(data, dict) else {}
        return self._state

    def emit(self, records: list[Mapping[str, Any]], key: str) -> int:
        self.store.upsert_records(self.collector, self.run_id, records, key)
        self.records_emitted += len(records)
        return len(records)

    def progress(self, done: int, total: int | None) -> None:
        if self._on_progress is not None:
            self._on_progress(done, total)
        now = time.monotonic()
        if now - self._progress_written >= self._progress_every or (total is not None and done >= total):
            self._progress_written = now
            if self.run_id:
                self.store.set_progress(self.run_id, done, total)

    def limit(self, name: str, rate: Rate, tokens: int) -> float:
        """Tokens from the shared bucket; the run's ``waiting_for`` says so while it waits."""
        if self._limiter is None:
            self._limiter = Limiter(DatabaseBucket(self.store))
        return self._limiter.acquire(name, rate, tokens, self._waiting)

    def _waiting(self, waiting_for: str | None) -> None:
        if self.run_id:
            set_waiting_for(self.store, self.run_id, waiting_for)

    def enter_phase(self, phase: Phase) -> None:
        now = time.monotonic()
        if self._phase_started is not None:
            name, started = self._phase_started
            self.phase_times[name] = now - started
        self._phase_started = (phase, now)

    def state_write(self) -> StateWrite | None:
        """The state to commit with a success, or None when it was not read or did not change."""
        if self._state is None or self._state_read is None:
            return None
        original, version = self._state_read
        if self._state == original:
            return None
        return StateWrite(self.collector, self.params_key, dict(self._state), version)
