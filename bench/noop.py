"""No-op workloads for the throughput benchmark.

- ``Noop``: a harvester collector that does nothing (``HARVESTER_COLLECTORS=bench.noop``);
  ``NoopFanout``: a fan-out parent of N ``Noop`` members.
- ``app`` / ``noop``: a bare Celery app with a no-op task (and a chord callback that counts its
  results), for ``celery -A bench.noop worker``.
  The bare app is configured from ``BENCH_BROKER_URL``, ``BENCH_RESULT_BACKEND`` and (for the
  ``filesystem://`` broker) ``BENCH_FS_DIR``, and is only built when first used, so importing this
  module as a harvester collector module does not create (or make current) a second Celery app.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from celery import Celery
from pydantic import BaseModel, ConfigDict

from harvester.collector import Collector
from harvester.dispatch.celery_app import SAFE_DELIVERY, file_broker_options
from harvester.dispatch.embedded import celery_url

BARE_TASK = "bench.noop"
BARE_GATHER = "bench.gather"
BARE_QUEUE = "bench"


class NoopParams(BaseModel):
    """``seq`` only makes each benchmark run's params (so its overlap-lock key) distinct."""

    model_config = ConfigDict(extra="forbid")
    seq: int = 0


class Noop(Collector):
    """The cheapest possible collector: all that is measured is harvester's own overhead."""

    name = "bench_noop"
    description = "Does nothing (throughput benchmark)."
    Params = NoopParams

    def collect(self) -> None:
        return None


class NoopFanoutParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    members: int = 1000
    seq: int = 0


class NoopFanout(Collector):
    """A fan-out of ``members`` no-op runs; gather counts them (the fan-out benchmark)."""

    name = "bench_fanout"
    description = "Fans out to no-op members (fan-out benchmark)."
    Params = NoopFanoutParams

    def subcollectors(self) -> list[Collector]:
        base = self.params.seq * 1_000_000  # distinct member params: no overlap lock is shared
        return [Noop(seq=base + i) for i in range(self.params.members)]

    def gather(self, results: list[Any]) -> int:
        return sum(1 for r in results if r.ok)


def make_bare_app(broker_url: str, result_backend: str, fs_dir: str | None = None, defaults: bool = False) -> Celery:
    """A plain Celery app on ``broker_url`` with one no-op task, tuned like harvester's app; with
    ``defaults``, at Celery's own defaults (early acks, prefetch 4): what a user would start with."""
    # the embedded broker's transport, exactly as harvester uses it (messages written atomically)
    app = Celery("bench", broker=celery_url(broker_url), backend=result_backend, set_as_current=False)
    options: dict[str, Any] = {}
    if broker_url.startswith("filesystem:"):
        if not fs_dir:
            raise RuntimeError("the filesystem:// broker needs BENCH_FS_DIR")
        options = file_broker_options(Path(fs_dir))  # exactly like harvester's embedded broker
    tuning: dict[str, Any] = {} if defaults else {**SAFE_DELIVERY, "worker_prefetch_multiplier": 1}
    app.conf.update(**tuning, task_default_queue=BARE_QUEUE, broker_transport_options=options, result_expires=3600)

    @app.task(name=BARE_TASK, acks_late=not defaults, shared=False)  # type: ignore[untyped-decorator]
    def noop() -> None:
        return None

    @app.task(name=BARE_GATHER, acks_late=True, shared=False)  # type: ignore[untyped-decorator]
    def gather(results: list[Any]) -> int:
        return len(results)

    return app


_app: Celery | None = None


def __getattr__(name: str) -> Any:
    """``bench.noop.app`` / ``bench.noop.noop``: the bare app built from ``BENCH_*`` on first access."""
    global _app
    if name not in ("app", "noop"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _app is None:
        try:
            broker, backend = os.environ["BENCH_BROKER_URL"], os.environ["BENCH_RESULT_BACKEND"]
        except KeyError as exc:
            raise AttributeError(f"bench.noop.{name} needs {exc.args[0]} in the environment") from None
        defaults = os.environ.get("BENCH_DEFAULTS") == "1"
        _app = make_bare_app(broker, backend, os.environ.get("BENCH_FS_DIR"), defaults=defaults)
    return _app if name == "app" else _app.tasks[BARE_TASK]
