"""Test helpers for your collectors: run one through harvester's real runner, in-process,
against a throwaway SQLite database, and look at what it left behind.

A plain ``MyCollector(**params).run()`` skips the runner (no history, retries, overlap lock or
persisted state); these helpers do not, and still need no server::

    from harvester.testing import run_collector

    def test_counts(tmp_path):
        outcome = run_collector(MyCollector, {"repo": "a/b"}, data_dir=tmp_path)
        assert outcome.status == "succeeded"
        assert outcome.records == {"1": {"id": 1, "stars": 3}}

For several runs against one database use :class:`CollectorHarness`, or the
``collector_harness`` pytest fixture: add ``pytest_plugins = ["harvester.testing"]`` to your top-level
``conftest.py`` (or run ``pytest -p harvester.testing``).

The harness reads no ``HARVESTER_*`` variable and no ``.env``: a test never reaches the
database or broker a developer has configured. Retries wait 0 s unless you pass
``retry_delay``. The module imports pytest (for the fixture), which your tests have anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from types import TracebackType
from typing import Any

import pytest

from harvester.app import Harvester
from harvester.collector import Collector
from harvester.errors import FailureCategory
from harvester.registry import Registry
from harvester.request import Trigger
from harvester.settings import EMBEDDED_BROKER, Settings

__all__ = ["CollectorHarness", "CollectorRun", "collector_harness", "run_collector"]

CollectorRef = type[Collector] | str


def _isolated_settings(values: Mapping[str, Any]) -> Settings:
    """Settings from the defaults and ``values`` only: every field is passed, so no environment
    variable and no ``.env`` fills one in."""
    defaults = {name: f.get_default(call_default_factory=True) for name, f in Settings.model_fields.items()}
    return Settings(_env_file=None, **{**defaults, **values})


@dataclass(frozen=True)
class CollectorRun:
    """What one run left behind.

    - ``status``: ``succeeded``, ``failed`` or ``skipped`` (retries have already been waited out).
    - ``result``: what ``collect()`` returned (JSON form), ``None`` unless it succeeded.
    - ``run``: the history row, as ``harvester runs show`` sees it (``error_category``, ...).
    - ``attempts``: every attempt of the run, oldest first.
    - ``records``: the collector's stored records after the run, key -> payload (all of them,
      not only this run's: re-emitting an unchanged record is a no-op).
    - ``state``: the collector's persisted state for these params after the run.
    - ``error``: the exception of the last attempt, if any (not stored in history).
    """

    run_id: str
    status: str
    result: Any
    run: dict[str, Any]
    attempts: list[dict[str, Any]]
    records: dict[str, Any]
    state: Any
    error: BaseException | None = None
    category: FailureCategory | None = None
    exit_code: int = 0
    records_emitted: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"


class CollectorHarness:
    """A throwaway harvester: SQLite in ``data_dir`` (a temporary folder by default), only the
    given collectors registered, the same runner ``harvester run`` and the workers use.

    ``collectors`` are classes or module names (as in ``HARVESTER_COLLECTORS``); a class passed
    to :meth:`run` is registered on the way. ``settings`` are ``Settings`` fields (``retries``,
    ``retry_delay``, ...). Use it as a context manager, or call :meth:`close`.
    """

    def __init__(self, *collectors: CollectorRef, data_dir: Path | str | None = None, **settings: Any) -> None:
        self._tmp = TemporaryDirectory(prefix="harvester-test-") if data_dir is None else None
        root = Path(self._tmp.name if self._tmp is not None else data_dir or ".")
        root.mkdir(parents=True, exist_ok=True)
        values: dict[str, Any] = {
            "data_dir": root,
            "database_url": f"sqlite:///{root.resolve() / 'harvester.db'}",
            "broker_url": EMBEDDED_BROKER,
            "collectors": [],
            "retry_delay": 0.0,
            **settings,
        }
        registry = Registry.discover([c for c in collectors if isinstance(c, str)], use_entry_points=False)
        for cls in collectors:
            if not isinstance(cls, str):
                registry.add(cls)
        self.app = Harvester(_isolated_settings(values), registry=registry)
        self.app.store.upgrade()

    def run(
        self,
        collector: CollectorRef,
        params: Mapping[str, Any] | None = None,
        *,
        trigger: Trigger = "cli",
        force: bool = False,
        **more_params: Any,
    ) -> CollectorRun:
        """Run ``collector`` now, in this process, until it ends; params as a mapping or keywords.

        Invalid params raise ``ParamsError`` here, as they would at the CLI or the API.
        """
        name = self._name(collector)
        request = self.app.request(name, {**(params or {}), **more_params}, trigger=trigger, force=force)
        result = self.app.run_inline(request)
        row = self.app.store.get_run(result.run_id) or {}
        return CollectorRun(
            run_id=result.run_id,
            status=str(row.get("status", result.status)),
            result=result.result,
            run=row,
            attempts=self.app.store.attempts(result.run_id),
            records=self.records(name),
            state=self.state(name, request.params),
            error=result.error,
            category=result.category,
            exit_code=result.exit_code,
            records_emitted=int(row.get("records") or 0),
        )

    def records(self, collector: CollectorRef) -> dict[str, Any]:
        """The stored records of ``collector``: key -> payload."""
        return {r["key"]: r["payload"] for r in self.app.store.get_records(self._name(collector))}

    def state(self, collector: CollectorRef, params: Mapping[str, Any] | None = None) -> Any:
        """The persisted state of ``collector`` with ``params`` (``{}`` before its first success)."""
        instance = self.app.registry.get(self._name(collector))(**(params or {}))
        data, _version = self.app.store.load_state(instance.name, instance.state_params_key())
        return data

    def runs(self, collector: CollectorRef | None = None) -> list[dict[str, Any]]:
        """History rows, newest first."""
        return self.app.store.list_runs(collector=None if collector is None else self._name(collector), limit=1000)

    def close(self) -> None:
        self.app.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> CollectorHarness:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _name(self, collector: CollectorRef) -> str:
        if isinstance(collector, str):
            return collector
        self.app.registry.add(collector)  # the same class twice is fine; another one of that name is not
        return collector.name


def run_collector(
    collector: type[Collector],
    params: Mapping[str, Any] | None = None,
    *,
    data_dir: Path | str | None = None,
    also: Iterable[CollectorRef] = (),
    **settings: Any,
) -> CollectorRun:
    """Run ``collector`` once in a fresh harness and close it; ``data_dir`` keeps the database.

    Pass the same ``data_dir`` again to see state carried from one run to the next. ``also``
    registers more collectors (e.g. the subcollectors of a fan-out one).
    """
    with CollectorHarness(collector, *also, data_dir=data_dir, **settings) as harness:
        return harness.run(collector, params)


@pytest.fixture
def collector_harness(tmp_path: Path) -> Iterator[CollectorHarness]:
    """A :class:`CollectorHarness` with its database in ``tmp_path``; closed after the test."""
    with CollectorHarness(data_dir=tmp_path / "harvester") as harness:
        yield harness
