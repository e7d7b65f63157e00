"""The Celery app harvester builds: what its worker's main process does at start-up."""

from __future__ import annotations

import gc
import threading

import pytest
from celery.signals import worker_init, worker_ready, worker_shutdown

from harvester.app import Harvester
from harvester.settings import Settings


@pytest.fixture
def hv(tmp_path):
    made = Harvester(Settings(data_dir=tmp_path / "data", collectors=["sample_collectors"]))
    yield made
    made.close()


class Sender:
    """Stands in for the worker (worker_init) or its consumer (worker_ready): both carry ``app``."""

    def __init__(self, app: object) -> None:
        self.app = app


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.mark.parametrize("signal", [worker_init, worker_ready])
def test_the_worker_freezes_what_start_up_built(hv, unfrozen, signal):
    """So the pool's gc.collect() before each fork of a child does not walk every object again."""
    app = hv.celery
    signal.send(sender=Sender(app))
    worker_shutdown.send(sender=Sender(app))  # stops the recovery thread worker_ready started
    assert gc.get_freeze_count() > 0


def recovery_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "harvester-recovery"]


def test_a_ready_worker_runs_recovery_until_it_shuts_down(hv, unfrozen, monkeypatch):
    passes = threading.Event()
    monkeypatch.setattr(hv.recovery, "run", passes.set)
    before = set(recovery_threads())
    app = hv.celery
    worker_ready.send(sender=Sender(app))
    (thread,) = set(recovery_threads()) - before
    assert passes.wait(10)  # a pass every max(min(lost_after, redeliver_after) / 2, 1) s: 30 s by default
    worker_shutdown.send(sender=Sender(object()))  # another app's worker: not this one
    assert thread.is_alive()
    worker_shutdown.send(sender=Sender(app))
    thread.join(5)
    assert not thread.is_alive()


def test_another_apps_worker_does_not_freeze_this_process(hv, unfrozen):
    hv.celery  # noqa: B018 (connects the app's signal handlers)
    worker_ready.send(sender=Sender(object()))
    assert gc.get_freeze_count() == 0


def test_a_database_outage_is_retried_for_as_long_as_it_lasts(hv):
    tasks = hv.celery.tasks
    assert all(
        tasks[name].max_retries is None
        for name in ("harvester.run", "harvester.member", "harvester.gather", "harvester.batch")
    )
