"""Runner: executes one RunRequest through claim -> lock -> phases -> record. Used by the Celery
task and by ``harvester run`` alike, so both behave the same."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from pydantic_core import PydanticSerializationError, to_jsonable_python

from harvester.collector import Collector, MemberError, SubcollectorResult
from harvester.errors import (
    CollectorExit,
    ConfigError,
    FailureCategory,
    RegistryError,
    classify_failure,
    retry_after,
)
from harvester.execution.context import ProgressCallback, StoreContext
from harvester.execution.dispatcher import Dispatcher, DispatchError
from harvester.execution.heartbeat import Heartbeat
from harvester.execution.log_capture import captured
from harvester.execution.resources import Meter
from harvester.execution.retry import RetryPolicy
from harvester.failure_text import failure_message, failure_traceback
from harvester.history.data import StateConflict
from harvester.history.engine import DatabaseError, utcnow
from harvester.history.rate_limits import DatabaseBucket
from harvester.history.store import Cancelled, Claim, Ended, NewRun, Outcome, Store, worker_name
from harvester.ratelimit.limiter import Limiter
from harvester.registry import Registry
from harvester.request import RunRequest

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
#: A fan-out's members go as at most about this many messages (see ``Runner._ring_members``).
MEMBER_MESSAGES = 250


@dataclass(frozen=True)
class RunResult:
    """What happened to one delivery of a request; the Celery task and the CLI act on it."""

    run_id: str
    #: succeeded | failed | retrying | skipped | deferred | duplicate | fanout | superseded | cancelled | expired
    status: str
    attempt: int = 0
    result: Any = None
    category: FailureCategory | None = None
    error: BaseException | None = None
    retry_in: float | None = None
    members: tuple[RunRequest, ...] = ()  # ``fanout``: the recorded member runs (already dispatched)
    message: str | None = None  # a failure as history records it (secrets masked)

    @property
    def exit_code(self) -> int:
        if self.status in ("succeeded", "duplicate"):
            return EXIT_OK
        if isinstance(self.error, CollectorExit):
            return self.error.code
        return EXIT_CONFIG if self.category is FailureCategory.CONFIG else EXIT_FAILED


@dataclass(frozen=True)
class RunnerConfig:
    retries: int = 3
    retry_delay: float = 60.0
    retry_max_delay: float = 3600.0
    lost_after: float = 60.0
    lock_ttl: float = 60.0  # an overlap lock outlives a dead holder's last heartbeat by this long
    queue_wait: float = 5.0  # how long an ``overlap = "queue"`` run waits before trying again
    log_lines: int = 1000  # log lines kept per attempt (0: no capture)


class Runner:
    """Runs collectors and records every step in the store; what must run next (a retry, a fan-out's
    members, its gather) is recorded first and then handed to the dispatcher."""

    def __init__(
        self,
        registry: Registry,
        store: Store,
        heartbeat: Heartbeat,
        config: RunnerConfig,
        dispatcher: Dispatcher,
        limiter: Limiter | None = None,
    ) -> None:
        self.registry = registry
        self.store = store
        self.heartbeat = heartbeat
        self.config = config
        self.dispatcher = dispatcher
        #: Shared rate limits (``Collector.limit()``); default: buckets in the history database.
        self.limiter = limiter if limiter is not None else Limiter(DatabaseBucket(store))

    def policy(self, cls: type[Collector]) -> RetryPolicy:
        retries = self.config.retries if cls.retries is None else cls.retries
        base = self.config.retry_delay if cls.retry_backoff is None else cls.retry_backoff
        return RetryPolicy(retries, base, self.config.retry_max_delay, retry_time_limit=cls.retry_time_limit)

    def execute(self, request: RunRequest, on_progress: ProgressCallback | None = None) -> RunResult:
        """One delivery of a request. A fan-out parent ends this with status ``fanout``: its members
        are recorded and dispatched; the member whose end completes the count dispatches the gather,
        and :meth:`gather` finishes the parent.

        Database errors propagate: the caller retries the delivery (the row still says what to do).
        """
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
            self.store,
            collector.name,
            collector.state_params_key(),
            request.run_id,
            on_progress=on_progress,
            limiter=self.limiter,
        )
        collector.bind(context)
        started = Meter()
        try:
            with self._logs(request.run_id, attempt, collector):
                collector.resolve_secrets()  # here, in the process that runs it: a reference fails as config
                value = to_jsonable_python(collector.run())
        except PydanticSerializationError as exc:
            collector.phase = "collect"  # the value collect() returned is what failed
            return self._failed(
                request, collector, attempt, TypeError(f"collect() returned a non-JSON value: {exc}"), context, started
            )
        except Exception as exc:
            return self._failed(request, collector, attempt, exc, context, started)
        usage = started.stop()
        outcome = Outcome(
            "succeeded",
            result=value,
            records=context.records_emitted,
            duration=usage.wall_seconds,
            cpu_seconds=usage.cpu_seconds,
            peak_memory=usage.peak_memory,
        )
        try:
            ended = self.store.finish(
                request.run_id, attempt, outcome, state=context.state_write(), parent_run_id=request.parent_run_id
            )
        except StateConflict as exc:
            return self._failed(request, collector, attempt, exc, context, started)
        if not ended.recorded:
            return self._superseded(request, attempt)
        log.info(
            "run %s of %s succeeded in %.2f s (attempt %d)",
            request.run_id,
            collector.name,
            outcome.duration or 0,
            attempt,
            extra={"collector": collector.name, "run_id": request.run_id},
        )
        self._after_member(ended, request.parent_run_id, request.parent_params)
        return RunResult(request.run_id, "succeeded", attempt, result=value)

    def _logs(self, run_id: str, attempt: int, collector: Collector) -> AbstractContextManager[object]:
        """Capture what this attempt logs into history (see :mod:`execution.log_capture`)."""
        sink = functools.partial(self.store.append_logs, run_id, attempt)
        return captured(sink, limit=self.config.log_lines, secrets=collector.secret_values)

    def execute_batch(self, requests: Sequence[RunRequest]) -> list[RunResult]:
        """A scheduled batch: recorded runs one after another, in order, in this process.

        It never sleeps: a run that must wait (a retry, an overlap wait) was handed back to the
        dispatcher with its due time, and the batch goes on. The runs still ahead are held (the
        heartbeat keeps them from looking overdue); if this process dies, recovery sends them.
        A redelivered batch skips what already ended (the claim drops those deliveries).
        """
        ids = [request.run_id for request in requests]
        self.heartbeat.hold(ids)
        results = []
        try:
            for request in requests:
                self.heartbeat.release(request.run_id)
                results.append(self.execute(request))
        finally:
            for run_id in ids:
                self.heartbeat.release(run_id)
        return results

    # -- fan-out ---------------------------------------------------------------------------

    def _fan_out(self, request: RunRequest, parent: Collector, attempt: int) -> RunResult:
        """validate -> subcollectors(); record the members and leave the parent ``waiting`` for them
        (still holding its overlap lock, until gather finishes it); then send the members."""
        context = StoreContext(self.store, parent.name, parent.state_params_key(), request.run_id, limiter=self.limiter)
        parent.bind(context)
        started = Meter()
        try:
            with self._logs(request.run_id, attempt, parent):
                parent.resolve_secrets()
                members = parent.start_fanout()
            requests = [self._member_request(request, parent, member) for member in members]
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
            return self._superseded(request, attempt)
        log.debug("run %s of %s fanned out to %d members", request.run_id, parent.name, len(new))
        if requests:
            self._ring_members(requests)
        else:
            self._ring_gather(request)
        return RunResult(request.run_id, "fanout", attempt, members=tuple(requests))

    def _member_request(self, parent: RunRequest, collector: Collector, member: Collector) -> RunRequest:
        registered = self.registry.get(member.name) if member.name in self.registry else None
        if registered is not type(member):
            raise ConfigError(
                f"subcollector {type(member).__qualname__} ('{member.name}') is not a registered collector: "
                "add its module to HARVESTER_COLLECTORS so workers can run it"
            )
        if member.is_fanout():
            raise ConfigError(f"subcollector '{member.name}' is itself a fan-out collector: fan-outs do not nest")
        member.adopt_references(collector)
        return RunRequest(
            collector=member.name,
            params=member.wire_params(),
            trigger="parent",
            parent_run_id=parent.run_id,
            force=parent.force,
            # history keeps secret values masked: the member whose end makes the gather due carries them
            parent_params=parent.params if collector.masked_secrets(collector.redacted_params()) else None,
        )

    def gather(self, request: RunRequest) -> RunResult:
        """Finish a fan-out parent: its members' results -> gather -> steps -> after_run. Once only:
        a second delivery (the last member's and recovery's backstop both) finds it claimed and stops."""
        claimed = self.store.claim_gather(request.run_id, worker_name())
        if claimed is None:
            return RunResult(request.run_id, "duplicate")
        attempt, first_started = claimed
        try:
            parent = self.registry.get(request.collector)(**request.params)
        except (RegistryError, ConfigError) as exc:  # a gather that can never run must end the flow
            outcome = Outcome("failed", error_category="config", error_phase="gather", error_message=str(exc))
            self.store.finish(request.run_id, attempt, outcome)
            return RunResult(request.run_id, "failed", attempt, category=FailureCategory.CONFIG, error=exc)
        context = StoreContext(self.store, parent.name, parent.state_params_key(), request.run_id, limiter=self.limiter)
        parent.bind(context)
        self.heartbeat.add(request.run_id)
        started = Meter()
        try:
            results = [_member_result(row) for row in self.store.members(request.run_id)]
            with self._logs(request.run_id, attempt, parent):
                parent.resolve_secrets()
                value = to_jsonable_python(parent.finish_fanout(results))
        except DatabaseError:
            raise  # not the gather's failure: the delivery is retried, recovery gathers again
        except Exception as exc:  # gather is not retried: the members already were
            return self._failed(request, parent, attempt, exc, context, started, retry=False)
        finally:
            self.heartbeat.remove(request.run_id)
        # a parent's duration is its whole flow: first start to the end of gather
        flow_time = (utcnow() - first_started).total_seconds() if first_started else None
        usage = started.stop()
        outcome = Outcome(
            "succeeded",
            result=value,
            records=context.records_emitted,
            duration=flow_time,
            cpu_seconds=usage.cpu_seconds,
            peak_memory=usage.peak_memory,
        )
        try:
            ended = self.store.finish(request.run_id, attempt, outcome, state=context.state_write())
        except StateConflict as exc:
            return self._failed(request, parent, attempt, exc, context, started, retry=False)
        if not ended.recorded:
            return self._superseded(request, attempt)
        return RunResult(request.run_id, "succeeded", attempt, result=value)

    # -- failures --------------------------------------------------------------------------

    def _failed(
        self,
        request: RunRequest,
        collector: Collector,
        attempt: int,
        exc: BaseException,
        context: StoreContext,
        started: Meter,
        *,
        retry: bool = True,
    ) -> RunResult:
        category = FailureCategory.DATABASE if isinstance(exc, StateConflict) else classify_failure(exc)
        secrets = collector.secret_values()
        policy = self.policy(type(collector))
        usage = started.stop()
        retry = retry and policy.should_retry(category, attempt, exc)
        delay = policy.delay(attempt, retry_after(exc)) if retry else None
        outcome = Outcome(
            "retrying" if retry else "failed",
            records=context.records_emitted,
            duration=usage.wall_seconds,
            error_category=category.value,
            error_phase=collector.phase or "validate",
            error_message=failure_message(exc, secrets),
            retry_in=delay,
            error_traceback=failure_traceback(exc, secrets),
            cpu_seconds=usage.cpu_seconds,
            peak_memory=usage.peak_memory,
        )
        ended = self.store.finish(request.run_id, attempt, outcome, parent_run_id=request.parent_run_id)
        if not ended.recorded:
            return self._superseded(request, attempt)
        where = f"{category.value} in {outcome.error_phase}"
        fields = {
            "collector": collector.name,
            "run_id": request.run_id,
            "phase": outcome.error_phase,
            "category": category.value,
        }
        if retry:
            log.warning(
                "run %s of %s: attempt %d failed (%s): %s; retry in %.1f s",
                request.run_id,
                collector.name,
                attempt,
                where,
                outcome.error_message,
                delay or 0,
                extra=fields,
            )
            self._ring([request], countdown=delay)
        else:
            message = outcome.error_message
            log.error("run %s of %s failed (%s): %s", request.run_id, collector.name, where, message, extra=fields)
        self._after_member(ended, request.parent_run_id, request.parent_params)
        return RunResult(
            request.run_id,
            outcome.status,
            attempt,
            category=category,
            error=exc,
            retry_in=delay,
            message=outcome.error_message,
        )

    def _refuse(self, request: RunRequest, exc: Exception) -> RunResult:
        """The worker cannot even build the collector: unknown name or params invalid here."""
        outcome = Outcome("failed", error_category="config", error_phase="validate", error_message=str(exc))
        self.abandon(request.run_id, outcome, request.parent_run_id, request.parent_params)
        return RunResult(request.run_id, "failed", category=FailureCategory.CONFIG, error=exc)

    def cancel(self, run_id: str) -> Cancelled:
        """Cancel a run (and a fan-out parent's unfinished members): recorded first, then the
        dispatcher drops their messages and stops the processes running them. A cancelled member
        that completes its parent's count sends the gather."""
        cancelled = self.store.cancel(run_id)
        if not cancelled.recorded:
            return cancelled
        log.info("run %s cancelled (was %s)", run_id, cancelled.was, extra={"run_id": run_id})
        try:
            self.dispatcher.revoke(cancelled.stop)
        except DispatchError as exc:  # recorded: a late delivery finds it ended, a late finish is refused
            log.warning("run %s cancelled, but its workers were not told (%s)", run_id, exc)
        row = self.store.get_run(run_id) if cancelled.parent_done else None
        if row is not None:
            self._after_member(Ended(True, True), row["parent_run_id"])
        return cancelled

    def abandon(
        self,
        run_id: str,
        outcome: Outcome,
        parent_run_id: str | None = None,
        parent_params: dict[str, Any] | None = None,
    ) -> bool:
        """Fail a run from outside its attempt (unknown collector, hard time limit, Ctrl-C); a member
        counts into its parent. False when it had ended already."""
        ended = self.store.abandon(run_id, outcome, parent_run_id)
        self._after_member(ended, parent_run_id, parent_params)
        return ended.recorded

    def _unclaimed(self, request: RunRequest, claim: Claim, attempt: int) -> RunResult:
        if claim is Claim.EXPIRED:
            log.info("run %s of %s expired: not started by its expiry", request.run_id, request.collector)
            return RunResult(request.run_id, "expired", attempt)
        # BUSY too: the live attempt is watched by recovery (heartbeat), which re-sends it if it dies.
        log.info("dropping delivery of run %s (%s)", request.run_id, claim.value)
        return RunResult(request.run_id, "duplicate", attempt)

    def _superseded(self, request: RunRequest, attempt: int) -> RunResult:
        row = self.store.get_run(request.run_id)
        if row is not None and row["status"] == "cancelled":
            log.info(
                "run %s was cancelled: attempt %d stopped", request.run_id, attempt, extra={"run_id": request.run_id}
            )
            return RunResult(request.run_id, "cancelled", attempt)
        log.warning(
            "attempt %d of run %s was superseded (taken over or closed as lost): its outcome is dropped",
            attempt,
            request.run_id,
        )
        return RunResult(request.run_id, "superseded", attempt)

    def _overlap(self, request: RunRequest, cls: type[Collector], lock_key: str) -> RunResult:
        holder = self.store.lock_holder(lock_key)
        message = f"{cls.name} with these params is already running (run {holder})"
        if (request.overlap or cls.overlap) == "queue":
            wait = self.config.queue_wait
            if self.store.defer(request.run_id, f"waiting: {message}", utcnow() + timedelta(seconds=wait)):
                self._ring([request], countdown=wait)
            return RunResult(request.run_id, "deferred", retry_in=wait)
        ended = self.store.skip(request.run_id, f"skipped: {message}", request.parent_run_id)
        self._after_member(ended, request.parent_run_id, request.parent_params)
        log.info("run %s skipped: %s", request.run_id, message)
        return RunResult(request.run_id, "skipped", 1)

    # -- doorbells -------------------------------------------------------------------------

    def _ring(self, requests: list[RunRequest], countdown: float | None = None) -> None:
        """Send recorded runs; if the broker cannot take them, recovery sends them once overdue."""
        try:
            self.dispatcher.publish(requests, countdown=countdown)
        except DispatchError as exc:
            log.warning("%d recorded run(s) not sent (%s); recovery sends them once overdue", len(requests), exc)

    def _after_member(
        self, ended: Ended, parent_run_id: str | None, parent_params: dict[str, Any] | None = None
    ) -> None:
        """A member whose end completed its parent's count makes the parent's gather due."""
        if not ended.parent_done or parent_run_id is None:
            return
        parent = self.store.get_run(parent_run_id)
        if parent is None:
            return
        gather = RunRequest.from_history(parent)
        if parent_params is not None:
            gather = replace(gather, params=parent_params)
        elif parent["collector"] in self.registry and self.registry.get(parent["collector"]).masked_secrets(
            parent["params"]
        ):
            # history masks secrets: a gather built from it would run with the masks as values
            message = "fan-out not gathered: its params hold secret values, which history does not keep"
            outcome = Outcome("failed", error_category="unknown", error_phase="gather", error_message=message)
            self.store.abandon(parent["id"], outcome)
            return
        self._ring_gather(gather)

    def _ring_members(self, requests: list[RunRequest]) -> None:
        """Send a fan-out's recorded members: one message each up to :data:`MEMBER_MESSAGES` members;
        beyond, that many messages, each a chunk of members of one queue that a worker runs one after
        another. A message costs the parent about a millisecond to send and a worker about as much to
        take: 10,000 members as 10,000 messages kept the parent sending for seconds before most of
        them could start, while 250 chunks keep up to 250 worker processes busy."""
        size = -(-len(requests) // MEMBER_MESSAGES)
        if size == 1:
            self._ring(requests)
            return
        by_queue: dict[str, list[RunRequest]] = {}
        for request in requests:
            by_queue.setdefault(self.dispatcher.queue_of(request), []).append(request)
        chunks = [members[i : i + size] for members in by_queue.values() for i in range(0, len(members), size)]
        try:
            self.dispatcher.publish_batches(chunks)
        except DispatchError as exc:
            log.warning("members of a fan-out not all sent (%s); recovery sends them once overdue", exc)

    def _ring_gather(self, parent: RunRequest) -> None:
        try:
            self.dispatcher.publish_gather(parent)
        except DispatchError as exc:
            log.warning("gather of run %s not sent (%s); recovery sends it", parent.run_id, exc)


def _member_result(row: dict[str, Any]) -> SubcollectorResult:
    ok = row["status"] == "succeeded"
    error = None
    if not ok:
        category = (
            row["status"]
            if row["status"] in ("skipped", "cancelled")
            else row["error_category"] or FailureCategory.UNKNOWN.value
        )
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
