"""Runner: executes one RunRequest through claim -> lock -> phases -> record. Used by the Celery
task and by ``harvester run`` alike, so both behave the same."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic_core import PydanticSerializationError, to_jsonable_python

from harvester.collector import Collector, MemberError, SubcollectorResult
from harvester.errors import (
    ConfigError,
    FailureCategory,
    RegistryError,
    classify_failure,
    retry_after,
)
from harvester.execution.context import ProgressCallback, StoreContext
from harvester.execution.heartbeat import Heartbeat
from harvester.execution.retry import RetryPolicy
from harvester.history.data import StateConflict
from harvester.history.engine import utcnow
from harvester.history.store import Claim, NewRun, Outcome, Store, worker_name
from harvester.registry import Registry
from harvester.request import RunRequest

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


@dataclass(frozen=True)
class RunResult:
    """What happened to one delivery of a request; the Celery task and the CLI act on it."""

    run_id: str
    status: str  # succeeded | failed | retrying | skipped | deferred | duplicate | fanout
    attempt: int = 0
    result: Any = None
    category: FailureCategory | None = None
    error: BaseException | None = None
    retry_in: float | None = None
    members: tuple[RunRequest, ...] = ()  # ``fanout``: the recorded member runs, to run or dispatch

    @property
    def exit_code(self) -> int:
        if self.status in ("succeeded", "duplicate"):
            return EXIT_OK
        return EXIT_CONFIG if self.category is FailureCategory.CONFIG else EXIT_FAILED


@dataclass(frozen=True)
class RunnerConfig:
    retries: int = 3
    retry_delay: float = 60.0
    retry_max_delay: float = 3600.0
    lost_after: float = 60.0
    lock_ttl: float = 60.0  # an overlap lock outlives a dead holder's last heartbeat by this long
    queue_wait: float = 5.0  # how long an ``overlap = "queue"`` run waits before trying again


class Runner:
    """Runs collectors and records every step in the store."""

    def __init__(self, registry: Registry, store: Store, heartbeat: Heartbeat, config: RunnerConfig) -> None:
        self.registry = registry
        self.store = store
        self.heartbeat = heartbeat
        self.config = config

    def policy(self, cls: type[Collector]) -> RetryPolicy:
        retries = self.config.retries if cls.retries is None else cls.retries
        base = self.config.retry_delay if cls.retry_backoff is None else cls.retry_backoff
        return RetryPolicy(retries=retries, base=base, max_delay=self.config.retry_max_delay)

    def execute(self, request: RunRequest, on_progress: ProgressCallback | None = None) -> RunResult:
        """One delivery of a request. A fan-out parent ends this with status ``fanout``: its members
        are recorded and the caller runs or dispatches them; :meth:`gather` finishes the parent."""
        try:
            cls = self.registry.get(request.collector)
            collector = cls(**request.params)
        except (RegistryError, ConfigError) as exc:
            return self._refuse(request, exc)
        lock_key = None if request.force else f"{cls.name}:{collector.params_key()}"
        now = utcnow()
        claim, attempt = self.store.claim(
            request.run_id,
            stale_before=now - timedelta(seconds=self.config.lost_after),
            lock_key=lock_key,
            lock_stale_before=now - timedelta(seconds=self.config.lock_ttl),
        )
        if claim is Claim.LOCKED and lock_key is not None:
            return self._overlap(request, cls, lock_key)
        if claim is not Claim.CLAIMED:
            return self._unclaimed(request, claim, attempt)
        self.heartbeat.add(request.run_id)
        try:
            if cls.is_fanout():
                return self._fan_out(request, collector, attempt)
            return self._run_phases(request, collector, attempt, on_progress)
        finally:
            self.heartbeat.remove(request.run_id)

    def _run_phases(
        self, request: RunRequest, collector: Collector, attempt: int, on_progress: ProgressCallback | None
    ) -> RunResult:
        context = StoreContext(
            self.store, collector.name, collector.params_key(), request.run_id, on_progress=on_progress
        )
        collector.bind(context)
        started = time.monotonic()
        try:
            value = to_jsonable_python(collector.run())
        except PydanticSerializationError as exc:
            collector.phase = "collect"  # the value collect() returned is what failed
            return self._failed(
                request, collector, attempt, TypeError(f"collect() returned a non-JSON value: {exc}"), context, started
            )
        except Exception as exc:
            return self._failed(request, collector, attempt, exc, context, started)
        outcome = Outcome(
            "succeeded", result=value, records=context.records_emitted, duration=time.monotonic() - started
        )
        try:
            self.store.finish(
                request.run_id, attempt, outcome, state=context.state_write(), parent_run_id=request.parent_run_id
            )
        except StateConflict as exc:
            return self._failed(request, collector, attempt, exc, context, started)
        return RunResult(request.run_id, "succeeded", attempt, result=value)

    # -- fan-out ---------------------------------------------------------------------------

    def _fan_out(self, request: RunRequest, parent: Collector, attempt: int) -> RunResult:
        """validate -> subcollectors(); record the members and leave the parent waiting for them
        (still ``running``, so still holding its overlap lock, until gather finishes it)."""
        context = StoreContext(self.store, parent.name, parent.params_key(), request.run_id)
        parent.bind(context)
        started = time.monotonic()
        try:
            members = parent.start_fanout()
            requests = [self._member_request(request, member) for member in members]
        except Exception as exc:
            return self._failed(request, parent, attempt, exc, context, started)
        new = [
            NewRun(
                run_id=r.run_id,
                collector=r.collector,
                params=m.redacted_params(),
                params_key=m.params_key(),
                trigger="parent",
                parent_run_id=request.run_id,
                task_id=r.run_id,
                member_index=i,
            )
            for i, (r, m) in enumerate(zip(requests, members, strict=True))
        ]
        if not self.store.fan_out(request.run_id, attempt, new):
            return RunResult(request.run_id, "duplicate", attempt)
        log.debug("run %s of %s fanned out to %d members", request.run_id, parent.name, len(new))
        return RunResult(request.run_id, "fanout", attempt, members=tuple(requests))

    def _member_request(self, parent: RunRequest, member: Collector) -> RunRequest:
        registered = self.registry.get(member.name) if member.name in self.registry else None
        if registered is not type(member):
            raise ConfigError(
                f"subcollector {type(member).__qualname__} ('{member.name}') is not a registered collector: "
                "add its module to HARVESTER_COLLECTORS so workers can run it"
            )
        if member.is_fanout():
            raise ConfigError(f"subcollector '{member.name}' is itself a fan-out collector: fan-outs do not nest")
        return RunRequest(
            collector=member.name,
            params=member.wire_params(),
            trigger="parent",
            parent_run_id=parent.run_id,
            force=parent.force,
        )

    def gather(self, request: RunRequest) -> RunResult:
        """Finish a fan-out parent: its members' results -> gather -> steps -> after_run. Once only:
        a second delivery (chord callback and reaper backstop both) finds it claimed and stops."""
        claimed = self.store.claim_gather(request.run_id, worker_name())
        if claimed is None:
            return RunResult(request.run_id, "duplicate")
        attempt, first_started = claimed
        cls = self.registry.get(request.collector)
        parent = cls(**request.params)
        context = StoreContext(self.store, parent.name, parent.params_key(), request.run_id)
        parent.bind(context)
        self.heartbeat.add(request.run_id)
        started = time.monotonic()
        try:
            results = [_member_result(row) for row in self.store.members(request.run_id)]
            value = to_jsonable_python(parent.finish_fanout(results))
        except Exception as exc:  # gather is not retried: the members already were
            return self._failed(request, parent, attempt, exc, context, started, retry=False)
        finally:
            self.heartbeat.remove(request.run_id)
        # a parent's duration is its whole flow: first start to the end of gather
        flow_time = (utcnow() - first_started).total_seconds() if first_started else None
        outcome = Outcome("succeeded", result=value, records=context.records_emitted, duration=flow_time)
        try:
            self.store.finish(request.run_id, attempt, outcome, state=context.state_write())
        except StateConflict as exc:
            return self._failed(request, parent, attempt, exc, context, started, retry=False)
        return RunResult(request.run_id, "succeeded", attempt, result=value)

    # -- failures --------------------------------------------------------------------------

    def _failed(
        self,
        request: RunRequest,
        collector: Collector,
        attempt: int,
        exc: BaseException,
        context: StoreContext,
        started: float,
        *,
        retry: bool = True,
    ) -> RunResult:
        category = FailureCategory.DATABASE if isinstance(exc, StateConflict) else classify_failure(exc)
        policy = self.policy(type(collector))
        retry = retry and policy.should_retry(category, attempt)
        delay = policy.delay(attempt, retry_after(exc)) if retry else None
        outcome = Outcome(
            "retrying" if retry else "failed",
            records=context.records_emitted,
            duration=time.monotonic() - started,
            error_category=category.value,
            error_phase=collector.phase or "validate",
            error_message=f"{type(exc).__name__}: {exc}",
            retry_in=delay,
        )
        self.store.finish(request.run_id, attempt, outcome, parent_run_id=request.parent_run_id)
        return RunResult(request.run_id, outcome.status, attempt, category=category, error=exc, retry_in=delay)

    def _refuse(self, request: RunRequest, exc: Exception) -> RunResult:
        """The worker cannot even build the collector: unknown name or params invalid here."""
        outcome = Outcome("failed", error_category="config", error_phase="validate", error_message=str(exc))
        self.store.abandon(request.run_id, outcome)
        if request.parent_run_id is not None:
            self.store.member_finished(request.parent_run_id)
        return RunResult(request.run_id, "failed", category=FailureCategory.CONFIG, error=exc)

    def _unclaimed(self, request: RunRequest, claim: Claim, attempt: int) -> RunResult:
        if claim is Claim.BUSY:
            log.info("run %s is live elsewhere; looking again in %.0f s", request.run_id, self.config.lost_after)
            return RunResult(request.run_id, "deferred", attempt, retry_in=self.config.lost_after)
        log.info("dropping duplicate delivery of run %s (%s)", request.run_id, claim.value)
        return RunResult(request.run_id, "duplicate", attempt)

    def _overlap(self, request: RunRequest, cls: type[Collector], lock_key: str) -> RunResult:
        holder = self.store.lock_holder(lock_key)
        message = f"{cls.name} with these params is already running (run {holder})"
        if (request.overlap or cls.overlap) == "queue":
            self.store.note_waiting(request.run_id, f"waiting: {message}")
            return RunResult(request.run_id, "deferred", retry_in=self.config.queue_wait)
        self.store.skip(request.run_id, f"skipped: {message}")
        if request.parent_run_id is not None:
            self.store.member_finished(request.parent_run_id)
        log.info("run %s skipped: %s", request.run_id, message)
        return RunResult(request.run_id, "skipped", 1)


def _member_result(row: dict[str, Any]) -> SubcollectorResult:
    ok = row["status"] == "succeeded"
    error = None
    if not ok:
        category = "skipped" if row["status"] == "skipped" else row["error_category"] or FailureCategory.UNKNOWN.value
        error = MemberError(category, row["error_message"] or row["status"])
    return SubcollectorResult(
        name=row["collector"],
        ok=ok,
        value=row["result"] if ok else None,
        error=error,
        run_id=row["id"],
        status=row["status"],
        params=row["params"],
    )
