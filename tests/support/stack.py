"""Stack: one harvester deployment for a test (settings, app, worker subprocesses)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harvester import Harvester, Settings

REPO = Path(__file__).resolve().parents[2]
SUPPORT = Path(__file__).resolve().parent


class Worker:
    """A ``harvester worker`` subprocess in its own process group; its output goes to a file."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.log = log
        self.handle = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "harvester", "worker", *args],
            env=env,
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=env["PWD"],
        )

    def wait_ready(self, timeout: float = 30) -> Worker:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.output():
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.output()}")
            time.sleep(0.1)
        raise TimeoutError(f"worker not ready after {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill_all(self) -> None:
        """kill -9 the whole worker: main process and pool children."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Tests need no graceful shutdown: kill the group at once (``up`` has its own test for that)."""
        if self.proc.poll() is None:
            self.kill_all()
        self.handle.close()


class Stack:
    """Settings + app for one test, and the env that gives worker subprocesses the same settings."""

    def __init__(self, folder: Path, **overrides: Any) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        values: dict[str, Any] = {
            "data_dir": folder / "data",
            "collectors": ["sample_collectors"],
            "heartbeat_interval": 1.0,
            "lost_after": 4.0,
            "lock_ttl": 4.0,
            "retry_delay": 0.2,
            "concurrency": 2,
            "schedule_file": folder / "schedule.yaml",
        }
        values.update(overrides)
        self.settings = Settings(**values)
        schedule = Path(values["schedule_file"])
        if not schedule.exists():  # a named schedule file must exist; tests that schedule write their own
            schedule.write_text("groups: {}\n")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HARVESTER_")}
        for key, value in values.items():
            if value is not None:
                text = ",".join(value) if isinstance(value, list) else str(value)
                self.env[f"HARVESTER_{key.upper()}"] = text
        self.env["PYTHONPATH"] = os.pathsep.join([str(SUPPORT), str(REPO)])
        self.env["PWD"] = str(folder)
        self.hv = Harvester(self.settings)
        self.hv.store.upgrade()
        self.workers: list[Worker] = []
        self._lock = threading.Lock()

    def worker(self, *args: str, ready: bool = True) -> Worker:
        worker = Worker(self.env, self.folder / f"worker-{len(self.workers)}.log", *args)
        self.workers.append(worker)
        return worker.wait_ready() if ready else worker

    def beat(self) -> Beat:
        beat = Beat(self.env, self.folder / f"beat-{len(self.workers)}.log")
        self.workers.append(beat)
        return beat

    def trigger(self, name: str, **params: Any) -> str:
        return self.hv.submit([self.hv.request(name, params, trigger="api")])[0]

    def wait(
        self, run_id: str, statuses: tuple[str, ...] = ("succeeded", "failed", "skipped"), timeout: float = 30
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        row = None
        while time.monotonic() < deadline:
            row = self.hv.store.get_run(run_id)
            if row is not None and row["status"] in statuses:
                return row
            time.sleep(0.05)
        logs = "\n".join(w.output()[-3000:] for w in self.workers)
        raise TimeoutError(f"run {run_id} still {row and row['status']} after {timeout}s\n{logs}")

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.hv.close()


class Beat(Worker):
    """A ``harvester beat`` subprocess."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.handle = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "harvester", "beat"],
            env=env,
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=env["PWD"],
        )


def wait_for_start(markers: Path, count: int = 1, timeout: float = 60) -> list[int]:
    """PIDs of the worker processes that entered Slow.collect()."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        started = sorted(markers.glob("started-*"))
        if len(started) >= count:
            return [int(p.name.split("-")[1]) for p in started]
        time.sleep(0.05)
    raise TimeoutError(f"no collector started in {timeout}s")


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, dead but not yet reaped by its pool, does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_for_cancelled_stop(worker: Worker, run_id: str, pid: int, timeout: float = 20) -> None:
    """Wait until a cancelled run's collector stopped: SIGTERM killed its process, or (prefork) the
    signal interrupted collect() and the worker logged the stop."""
    stopped = f"run {run_id} was cancelled: attempt 1 stopped"
    deadline = time.monotonic() + timeout
    while _alive(pid) and stopped not in worker.output() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid) or stopped in worker.output(), worker.output()[-3000:]


def wait_until(predicate: Callable[[], object], timeout: float = 90, what: str = "condition") -> None:
    """Poll ``predicate`` every 0.2 s until it holds; TimeoutError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} not reached in {timeout}s")


def runs_with_token(stack: Stack, token: str) -> list[dict[str, Any]]:
    """The runs whose params carry ``token`` (how a test tells its runs apart), oldest first."""
    rows = [r for r in stack.hv.store.list_runs(limit=1000) if r["params"].get("token") == token]
    return sorted(rows, key=lambda r: r["queued_at"])
