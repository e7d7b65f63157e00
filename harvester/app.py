"""Harvester: the composition root. Builds registry, store, heartbeat and runner once from Settings;
the CLI, the Celery app and (later) the API all take it as their one argument."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from harvester.execution.context import ProgressCallback
from harvester.execution.heartbeat import Heartbeat
from harvester.execution.runner import Runner, RunnerConfig, RunResult
from harvester.history.engine import utcnow
from harvester.history.store import MAX_LOST_ATTEMPTS, NewRun, Outcome, Store
from harvester.registry import Registry
from harvester.request import RunRequest, Trigger
from harvester.schedule.entries import ScheduleEntry
from harvester.schedule.overview import ScheduleOverview, read_schedule_file, schedule_overview
from harvester.schedule.predicates import should_run
from harvester.settings import Settings

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)

#: What becomes of a fan-out parent's recorded members: run here, or sent to the workers.
FanOut = Callable[[RunRequest, RunResult, ProgressCallback | None], RunResult]


class Harvester:
    """One explicit app object. Nothing connects until it is used."""

    def __init__(self, settings: Settings | None = None, registry: Registry | None = None) -> None:
        self.settings = settings if settings is not None else Settings()
        self.registry = registry if registry is not None else Registry.discover(self.settings.collectors)

    @cached_property
    def store(self) -> Store:
        return Store(self.settings.effective_database_url)

    @cached_property
    def heartbeat(self) -> Heartbeat:
        return Heartbeat(self.store, self.settings.heartbeat_interval)

    @cached_property
    def runner(self) -> Runner:
        s = self.settings
        config = RunnerConfig(
            retries=s.retries,
            retry_delay=s.retry_delay,
            retry_max_delay=s.retry_max_delay,
            lost_after=s.lost_after,
            lock_ttl=s.lock_ttl,
        )
        return Runner(self.registry, self.store, self.heartbeat, config)

    @cached_property
    def celery(self) -> Celery:
        from harvester.dispatch.celery_app import make_celery

        return make_celery(self)

    def after_fork(self) -> None:
        """Drop connections inherited from the parent process (called in each worker child)."""
        self.store.after_fork()

    def close(self) -> None:
        """Stop what was started; touches nothing that was never used."""
        if "heartbeat" in self.__dict__:
            self.heartbeat.stop()
        if "store" in self.__dict__:
            self.store.close()

    def schedule_overview(self, now: datetime) -> ScheduleOverview:
        """The schedule file (read without strictness): each enabled entry's next run and freshness,
        and each collector's entries, last run and last success."""
        file = read_schedule_file(self.settings.schedule_file, self.registry)
        store = self.store
        return schedule_overview(file, self.registry, store.last_successes(), store.last_runs(), now)

    # -- building requests -----------------------------------------------------------------

    def request(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        *,
        trigger: Trigger = "cli",
        force: bool = False,
        parent_run_id: str | None = None,
    ) -> RunRequest:
        """Validate ``params`` against the collector's Params now, so bad input fails at the edge."""
        collector = self.registry.get(name)(**(params or {}))
        return RunRequest(
            collector=name, params=collector.wire_params(), trigger=trigger, force=force, parent_run_id=parent_run_id
        )

    def _new_run(self, request: RunRequest) -> NewRun:
        collector = self.registry.get(request.collector)(**request.params)
        return NewRun(
            run_id=request.run_id,
            collector=request.collector,
            params=collector.redacted_params(),
            params_key=collector.params_key(),
            trigger=request.trigger,
            parent_run_id=request.parent_run_id,
            task_id=request.run_id,
        )

    # -- running ---------------------------------------------------------------------------

    def run_inline(
        self, request: RunRequest, on_progress: ProgressCallback | None = None, on_wait: Any = None
    ) -> RunResult:
        """Run in this process, through the same runner the workers use; retries wait here."""
        self.store.create_runs([self._new_run(request)])
        try:
            return self._execute_waiting(request, on_progress, on_wait)
        except KeyboardInterrupt:
            # Recorded as failed, so the reaper does not hand an interrupted CLI run to the workers.
            self.store.abandon(
                request.run_id,
                Outcome(
                    "failed", error_category="unknown", error_phase="collect", error_message="interrupted (Ctrl-C)"
                ),
            )
            raise

    def _execute_waiting(
        self,
        request: RunRequest,
        on_progress: ProgressCallback | None = None,
        on_wait: Any = None,
        fan_out: FanOut | None = None,
    ) -> RunResult:
        """Execute a recorded request here until it ends; retries and overlap waits sleep in between.

        A fan-out parent hands its members to ``fan_out`` (default: run them here, then gather).
        """
        while True:
            result = self.runner.execute(request, on_progress=on_progress)
            if result.status == "fanout":
                return (fan_out or self._fan_out_inline)(request, result, on_progress)
            if result.status not in ("retrying", "deferred"):
                return result
            if on_wait is not None:
                on_wait(result)
            time.sleep(result.retry_in or 0)

    def _fan_out_inline(
        self, request: RunRequest, result: RunResult, on_progress: ProgressCallback | None
    ) -> RunResult:
        """The fan-out flow without workers: members one after another in this process, then gather."""
        total = len(result.members)
        for done, member in enumerate(result.members, 1):
            self._execute_waiting(member)
            if on_progress is not None:
                on_progress(done, total)
        return self.runner.gather(request)

    def dispatch_fanout(
        self, request: RunRequest, result: RunResult, on_progress: ProgressCallback | None = None
    ) -> RunResult:
        """On a worker: the members go out as a Celery chord whose callback gathers the parent."""
        if not result.members:
            return self.runner.gather(request)
        from harvester.dispatch.celery_app import publish_fanout

        publish_fanout(self, request, result.members)
        return result

    def execute_batch(self, requests: Sequence[RunRequest]) -> list[RunResult]:
        """A worker's half of a scheduled batch: recorded runs, one after another, in order.

        A redelivered batch skips what already finished (the claim drops those deliveries). A fan-out
        entry hands its members to the workers and the batch goes on (its gather ends that run).
        """
        return [self._execute_waiting(request, fan_out=self.dispatch_fanout) for request in requests]

    def submit_batch(self, requests: Sequence[RunRequest]) -> list[str]:
        """Record the runs as queued and send them as one batch: one worker runs them in order."""
        from harvester.dispatch.celery_app import publish_batch

        self.store.create_runs([self._new_run(r) for r in requests])
        publish_batch(self, requests)
        return [r.run_id for r in requests]

    def entry_requests(self, entry: ScheduleEntry) -> list[RunRequest]:
        """The runs of one schedule entry: one, or one per target when its collector has ``targets()``."""
        targets = self.registry.get(entry.collector).targets()
        param_sets = [entry.params] if targets is None else [{**entry.params, **t.model_dump()} for t in targets]
        return [
            replace(self.request(entry.collector, params, trigger="schedule"), queue=entry.queue, overlap=entry.overlap)
            for params in param_sets
        ]

    def run_batch(
        self,
        entries: Sequence[ScheduleEntry],
        *,
        stop_on_failure: bool = False,
        report: Callable[[ScheduleEntry, RunResult | None, str], None] | None = None,
    ) -> list[RunResult]:
        """Run schedule entries in this process, one after another in file order (a group's batch).

        An entry whose ``when`` predicate says no is skipped; with ``stop_on_failure`` the entries
        after a failure are skipped too. ``report`` hears about each entry: its result, or why not.
        """
        results: list[RunResult] = []
        stop_reason = ""
        for entry in entries:
            runs, why = (False, stop_reason) if stop_reason else should_run(entry)
            if not runs:
                log.info("skipped %s (line %d): %s", entry.collector, entry.line, why)
                if report is not None:
                    report(entry, None, why)
                continue
            for request in self.entry_requests(entry):
                result = self.run_inline(request)
                results.append(result)
                if report is not None:
                    report(entry, result, "")
                if stop_on_failure and result.exit_code != 0:
                    stop_reason = f"{entry.collector} (line {entry.line}) failed and --stop-on-failure is set"
        return results

    def submit(self, requests: Sequence[RunRequest]) -> list[str]:
        """Record the runs as queued and publish them to the workers; returns the run ids."""
        from harvester.dispatch.celery_app import publish

        self.store.create_runs([self._new_run(r) for r in requests])
        publish(self, requests)
        return [r.run_id for r in requests]

    def reap(self) -> int:
        """Close lost runs (no heartbeat for ``lost_after``): re-enqueue, or fail when that is impossible.

        Also the fan-out backstop: a parent whose gathering process died, or whose members all
        finished without the chord calling back (a member closed outside its task), is gathered.
        """
        stale_before = utcnow() - timedelta(seconds=self.settings.lost_after)
        reaped = 0
        for run in self.store.lost_runs(stale_before):
            if run["members"] is None:
                reaped += self._reap_one(run)
            else:
                self.store.release_gather(run["id"], stale_before)  # waiting again: gathered below
        for parent in self.store.stalled_fanouts(stale_before):
            reaped += self._regather(parent)
        return reaped

    def _regather(self, run: dict[str, Any]) -> int:
        from harvester.dispatch.celery_app import publish_gather

        why = self._cannot_resend(run)
        if why is not None:
            message = f"fan-out not gathered: {why}"
            self.store.abandon(
                run["id"], Outcome("failed", error_category="unknown", error_phase="gather", error_message=message)
            )
            return 1
        publish_gather(self, self._stored_request(run))
        log.warning("fan-out run %s of %s: gather sent again by the reaper", run["id"], run["collector"])
        return 1

    def _stored_request(self, run: dict[str, Any]) -> RunRequest:
        return RunRequest(
            collector=run["collector"],
            params=run["params"],
            trigger=run["trigger"],
            run_id=run["id"],
            parent_run_id=run["parent_run_id"],
        )

    def _reap_one(self, run: dict[str, Any]) -> int:
        why = self._cannot_requeue(run)
        if why is not None:
            closed = self.store.mark_lost(
                run["id"], run["attempt"], requeue=False, message=f"worker lost; not re-enqueued: {why}"
            )
            if closed and run["parent_run_id"] is not None:
                from harvester.dispatch.celery_app import settle_member

                settle_member(self, run["id"])
            return int(closed)
        if not self.store.mark_lost(run["id"], run["attempt"], requeue=True, message="worker lost; re-enqueued"):
            return 0
        from harvester.dispatch.celery_app import publish

        publish(self, [self._stored_request(run)])
        log.warning("run %s of %s lost its worker; re-enqueued", run["id"], run["collector"])
        return 1

    def _cannot_requeue(self, run: dict[str, Any]) -> str | None:
        """Why a lost run cannot be sent again, or None when it can."""
        why = self._cannot_resend(run)
        if why is None and self.store.lost_attempts(run["id"]) >= MAX_LOST_ATTEMPTS:
            return f"worker lost {MAX_LOST_ATTEMPTS} times"
        return why

    def _cannot_resend(self, run: dict[str, Any]) -> str | None:
        """Why a run cannot be rebuilt from history, or None when it can."""
        if run["collector"] not in self.registry:
            return "collector no longer registered"
        if self.registry.get(run["collector"]).secret_fields():
            return "its params hold secrets, which history does not keep"
        return None
