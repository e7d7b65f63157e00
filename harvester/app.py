"""Harvester: the composition root. Builds registry, store, heartbeat, runner, dispatcher and
recovery once from Settings; the CLI, the Celery app and the API all take it as their one argument."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harvester.dispatch.celery_app import CeleryDispatcher, make_celery
from harvester.dispatch.rate_limits import RedisBucket
from harvester.execution.context import ProgressCallback
from harvester.execution.dispatcher import InlineDispatcher
from harvester.execution.heartbeat import Heartbeat
from harvester.execution.recovery import Recovery, RecoveryConfig
from harvester.execution.requests import entry_requests, make_request, new_run
from harvester.execution.runner import Runner, RunnerConfig, RunResult
from harvester.extras import check_drivers
from harvester.history.engine import utcnow
from harvester.history.rate_limits import DatabaseBucket
from harvester.history.store import FINISHED, Cancelled, Outcome, Store
from harvester.project import find_project, use_root
from harvester.ratelimit.limiter import Limiter
from harvester.registry import Registry
from harvester.request import RunRequest, Trigger, new_batch_id
from harvester.schedule.entries import ScheduleEntry
from harvester.schedule.overview import ScheduleOverview, read_schedule_file, schedule_overview
from harvester.schedule.predicates import should_run
from harvester.settings import Settings

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)


class Harvester:
    """One explicit app object. Nothing connects until it is used."""

    def __init__(self, settings: Settings | None = None, registry: Registry | None = None) -> None:
        self.settings = settings if settings is not None else Settings()
        if registry is None:
            use_root(find_project(Path.cwd(), Settings.model_fields))  # the project's modules import as they are
        s = self.settings
        check_drivers(
            {
                "HARVESTER_DATABASE_URL": s.effective_database_url,
                "HARVESTER_BROKER_URL": s.effective_broker_url,
                "HARVESTER_RESULT_BACKEND": s.effective_result_backend,
            }
        )
        self.registry = registry if registry is not None else Registry.discover(self.settings.collectors)

    @cached_property
    def store(self) -> Store:
        return Store(self.settings.effective_database_url)

    @cached_property
    def heartbeat(self) -> Heartbeat:
        return Heartbeat(self.store, self.settings.heartbeat_interval)

    @cached_property
    def runner_config(self) -> RunnerConfig:
        s = self.settings
        return RunnerConfig(
            retries=s.retries,
            retry_delay=s.retry_delay,
            retry_max_delay=s.retry_max_delay,
            lost_after=s.lost_after,
            lock_ttl=s.lock_ttl,
            log_lines=s.run_log_lines,
        )

    @cached_property
    def celery(self) -> Celery:
        return make_celery(self)

    @cached_property
    def dispatcher(self) -> CeleryDispatcher:
        """Sends runs to the workers."""
        return CeleryDispatcher(self.celery, self.registry, self.settings)

    @cached_property
    def runner(self) -> Runner:
        """The runner of worker processes: what runs next goes to the workers."""
        return Runner(self.registry, self.store, self.heartbeat, self.runner_config, self.dispatcher, self.limiter)

    @cached_property
    def limiter(self) -> Limiter:
        """Shared rate limits: buckets in Redis when the broker is Redis, in the history database otherwise."""
        broker = self.settings.effective_broker_url
        if broker.startswith(("redis://", "rediss://")):
            return Limiter(RedisBucket(broker))
        return Limiter(DatabaseBucket(self.store))

    @cached_property
    def recovery(self) -> Recovery:
        s = self.settings
        config = RecoveryConfig(
            lost_after=s.lost_after, redeliver_after=s.redeliver_after, retention_days=s.retention_days
        )
        return Recovery(self.registry, self.store, self.dispatcher, config)

    def after_fork(self) -> None:
        """Drop connections inherited from the parent process (called in each worker child)."""
        self.store.after_fork()

    def close(self) -> None:
        """Stop what was started; touches nothing that was never used."""
        if "heartbeat" in self.__dict__:
            self.heartbeat.stop()
        if "limiter" in self.__dict__ and isinstance(self.limiter.bucket, RedisBucket):
            self.limiter.bucket.close()
        if "store" in self.__dict__:
            self.store.close()

    def schedule_overview(self, now: datetime) -> ScheduleOverview:
        """The schedule file (read without strictness): each enabled entry's next run and freshness,
        each collector's entries, last run and last success, and each group's last batch."""
        file = read_schedule_file(self.settings.schedule_file, self.registry)
        return schedule_overview(file, self.registry, self.store.schedule_history(file.schedule, self.registry), now)

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
        return make_request(self.registry, name, params, trigger=trigger, force=force, parent_run_id=parent_run_id)

    def entry_requests(self, entry: ScheduleEntry) -> list[RunRequest]:
        """The runs of one schedule entry: one, or one per target when its collector has ``targets()``."""
        return entry_requests(self.registry, entry)

    # -- running ---------------------------------------------------------------------------

    def run_inline(
        self, request: RunRequest, on_progress: ProgressCallback | None = None, on_wait: Any = None
    ) -> RunResult:
        """Run in this process, through the same runner the workers use, with an in-process queue as
        its dispatcher: retries and overlap waits sleep here, a fan-out's members run here one after
        another, then its gather. Returns the run's last result."""
        self.store.create_runs([new_run(self.registry, request)])
        inline = InlineDispatcher()
        runner = Runner(self.registry, self.store, self.heartbeat, self.runner_config, inline, self.limiter)
        inline.publish([request])
        try:
            return _drain(runner, inline, request, on_progress, on_wait)
        except KeyboardInterrupt:
            # Recorded as failed, so recovery does not hand an interrupted CLI run to the workers.
            message = "interrupted (Ctrl-C)"
            outcome = Outcome("failed", error_category="unknown", error_phase="collect", error_message=message)
            runner.abandon(request.run_id, outcome)
            raise

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
        The runs of each group are one batch of that group (its last batch in ``harvester list``).
        """
        results: list[RunResult] = []
        stop_reason = ""
        batch_ids: dict[str, str] = {}
        for entry in entries:
            runs, why = (False, stop_reason) if stop_reason else should_run(entry)
            if not runs:
                log.info("skipped %s (line %d): %s", entry.collector, entry.line, why)
                if report is not None:
                    report(entry, None, why)
                continue
            batch_id = batch_ids.setdefault(entry.group, new_batch_id(utcnow()))
            for request in entry_requests(self.registry, entry, batch_id):
                result = self.run_inline(request)
                results.append(result)
                if report is not None:
                    report(entry, result, "")
                if stop_on_failure and result.exit_code != 0:
                    stop_reason = f"{entry.collector} (line {entry.line}) failed and --stop-on-failure is set"
        return results

    def submit(self, requests: Sequence[RunRequest]) -> list[str]:
        """Record the runs as queued and publish them to the workers; returns the run ids.

        Raises DispatchError when the broker cannot take them: they stay recorded, and recovery
        sends them once the broker is back."""
        self.store.create_runs([new_run(self.registry, r) for r in requests])
        self.dispatcher.publish(list(requests))
        return [r.run_id for r in requests]

    def cancel(self, run_id: str) -> Cancelled:
        """Cancel a run that has not ended: it never starts, or its worker process is stopped."""
        return self.runner.cancel(run_id)

    def reap(self) -> int:
        """One recovery pass (what beat and every worker run periodically); how many runs it moved."""
        return self.recovery.run().total


def _drain(
    runner: Runner,
    inline: InlineDispatcher,
    top: RunRequest,
    on_progress: ProgressCallback | None,
    on_wait: Any,
) -> RunResult:
    """Run the in-process queue until it is empty; the top run's last result."""
    last: dict[str, RunResult] = {}
    members_done = 0
    held: set[str] = set()
    while (job := inline.next_job()) is not None:
        # What waits in this process's queue is held, so recovery (a worker's or beat's, on the same
        # history) does not send it to the workers as overdue meanwhile.
        pending = set(inline.pending())
        runner.heartbeat.hold(list(pending - held))
        for run_id in held - pending:
            runner.heartbeat.release(run_id)
        held = pending
        wait = job.due - time.monotonic()
        if wait > 0:
            if on_wait is not None and job.request.run_id in last:
                on_wait(last[job.request.run_id])
            time.sleep(wait)
        if job.kind == "gather":
            result = runner.gather(job.request)
        else:
            top_run = job.request.run_id == top.run_id
            result = runner.execute(job.request, on_progress=on_progress if top_run else None)
        last[job.request.run_id] = result
        if job.request.parent_run_id == top.run_id and result.status in FINISHED:
            members_done += 1
            fanout = last.get(top.run_id)
            if on_progress is not None and fanout is not None:
                on_progress(members_done, len(fanout.members))
    for run_id in held:
        runner.heartbeat.release(run_id)
    return last[top.run_id]
