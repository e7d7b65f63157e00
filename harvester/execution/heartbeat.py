"""Heartbeat: one thread per process that proves its runs are alive (and so keeps their overlap locks)."""

from __future__ import annotations

import logging
import os
import threading

from harvester.history.store import Store

log = logging.getLogger(__name__)


class Heartbeat:
    """Every ``interval`` seconds: stamp ``heartbeat_at`` on the live runs of this process.

    A run's overlap lock is its own row (``runs.lock_key``): it holds while the stamps go on.

    One thread per process, started on first use (and again after a fork, since threads
    do not survive one); adding or removing a run costs a dictionary operation.
    """

    def __init__(self, store: Store, interval: float) -> None:
        self.store = store
        self.interval = interval
        self._runs: set[str] = set()
        self._held: set[str] = set()
        self._mutex = threading.Lock()
        self._pid: int | None = None
        self._stop = threading.Event()

    def add(self, run_id: str) -> None:
        with self._mutex:
            self._runs.add(run_id)
            if self._pid != os.getpid():
                self._start()

    def remove(self, run_id: str) -> None:
        with self._mutex:
            self._runs.discard(run_id)

    def hold(self, run_ids: list[str]) -> None:
        """Keep due runs that this process will run next (a batch's) from looking overdue."""
        if not run_ids:
            return
        with self._mutex:
            self._held.update(run_ids)
            if self._pid != os.getpid():
                self._start()

    def release(self, run_id: str) -> None:
        with self._mutex:
            self._held.discard(run_id)

    def beat(self) -> None:
        """One heartbeat: stamp every live run of this process (and its held ones)."""
        with self._mutex:
            runs, held = list(self._runs), list(self._held)
        if runs or held:
            self.store.heartbeat(runs, held)

    def stop(self) -> None:
        self._stop.set()

    def _start(self) -> None:
        self._pid = os.getpid()
        self._stop = threading.Event()
        threading.Thread(target=self._loop, name="harvester-heartbeat", daemon=True).start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except Exception:
                log.exception("heartbeat failed; will try again in %.0f s", self.interval)
