"""Heartbeat: one thread per process that proves its runs are alive and keeps their locks."""

from __future__ import annotations

import logging
import os
import threading

from harvester.execution.locks import Locks
from harvester.history.store import Store

log = logging.getLogger(__name__)


class Heartbeat:
    """Every ``interval`` seconds: stamp ``heartbeat_at`` on the live runs, renew their overlap locks.

    One thread per process, started on first use (and again after a fork, since threads
    do not survive one); adding or removing a run costs a dictionary operation.
    """

    def __init__(self, store: Store, locks: Locks, interval: float) -> None:
        self.store = store
        self.locks = locks
        self.interval = interval
        self._runs: dict[str, str | None] = {}
        self._mutex = threading.Lock()
        self._pid: int | None = None
        self._stop = threading.Event()

    def add(self, run_id: str, lock_key: str | None) -> None:
        with self._mutex:
            self._runs[run_id] = lock_key
            if self._pid != os.getpid():
                self._start()

    def remove(self, run_id: str) -> None:
        with self._mutex:
            self._runs.pop(run_id, None)

    def beat(self) -> None:
        """One heartbeat: database stamp plus lock renewals."""
        with self._mutex:
            runs = dict(self._runs)
        if not runs:
            return
        self.store.heartbeat(runs)
        for run_id, key in runs.items():
            if key is not None and not self.locks.renew(key, run_id) and run_id in self._runs:
                log.warning("run %s lost its overlap lock %s (expired?)", run_id, key)

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
