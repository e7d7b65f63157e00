"""Runner: executes one RunRequest through claim -> lock -> phases -> record. Used by the Celery
task and by ``harvester run`` alike, so both behave the same."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic_core import PydanticSerializationError, to_jsonable_python

from harvester.collector import Collector
from harvester.errors import (
    ConfigError,
    FailureCategory,
    RegistryError,
    classify_failure,
    retry_after,
)
from harvester.execution.context import ProgressCallback, StoreContext
from harvester.execution.heartbeat import Heartbeat
from harvester.execution.locks import Locks
from harvester.execution.retry import RetryPolicy
from harvester.history.data import StateConflict
from harvester.history.engine import utcnow
from harvester.history.store import Claim, Outcome, Store
from harvester.registry import Registry
from harvester.request import RunRequest

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


@dataclass(frozen=True)
class RunResult:
    """What happened to one delivery of a request; the Celery task and the CLI act on it."""

    run_id: str
    status: str  # succeeded | failed | retrying | skipped | deferred | duplicate
    attempt: int = 0
    result: Any = None
    category: FailureCategory | None = None
    error: BaseException | None = None
    retry_in: float | None = None

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
    queue_wait: float = 5.0  # how long an ``overlap = "queue"`` run waits before trying again


class Runner:
    """Runs collectors and records every step in the store."""

    def __init__(
        self, registry: Registry, store: Store, locks: Locks, heartbeat: Heartbeat, config: RunnerConfig
    ) -> None:
        self.registry = registry
        self.store = store
        self.locks = locks
        self.heartbeat = heartbeat
        self.config = config

    def policy(self, cls: type[Collector]) -> RetryPolicy:
        retries = self.config.retries if cls.retries is None else cls.retries
        base = self.config.retry_delay if cls.retry_backoff is None else cls.retry_backoff
        return RetryPolicy(retries=retries, base=base, max_delay=self.config.retry_max_delay)

    def execute(self, request: RunRequest, on_progress: ProgressCallback | None = None) -> RunResult:
        try:
            cls = self.registry.get(request.collector)
            collector = cls(**request.params)
        except (RegistryError, ConfigError) as exc:
            return self._refuse(request, exc)
        claim, attempt = self.store.claim(
            request.run_id, stale_before=utcnow() - timedelta(seconds=self.config.lost_after)
        )
        if claim is not Claim.CLAIMED:
            return self._unclaimed(request, claim, attempt)
        lock_key = None if request.force else f"{cls.name}:{collector.params_key()}"
        if lock_key is not None and not self.locks.acquire(lock_key, request.run_id):
            return self._overlap(request, cls, attempt, lock_key)
        self.heartbeat.add(request.run_id, lock_key)
        try:
            return self._run_phases(request, collector, attempt, on_progress)
        finally:
            self.heartbeat.remove(request.run_id)
            if lock_key is not None:
                self.locks.release(lock_key, request.run_id)

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
            self.store.finish(request.run_id, attempt, outcome, state=context.state_write())
        except StateConflict as exc:
            return self._failed(request, collector, attempt, exc, context, started)
        return RunResult(request.run_id, "succeeded", attempt, result=value)

    def _failed(
        self,
        request: RunRequest,
        collector: Collector,
        attempt: int,
        exc: BaseException,
        context: StoreContext,
        started: float,
    ) -> RunResult:
        category = FailureCategory.DATABASE if isinstance(exc, StateConflict) else classify_failure(exc)
        policy = self.policy(type(collector))
        retry = policy.should_retry(category, attempt)
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
        self.store.finish(request.run_id, attempt, outcome)
        return RunResult(request.run_id, outcome.status, attempt, category=category, error=exc, retry_in=delay)

    def _refuse(self, request: RunRequest, exc: Exception) -> RunResult:
        """The worker cannot even build the collector: unknown name or params invalid here."""
        outcome = Outcome("failed", error_category="config", error_phase="validate", error_message=str(exc))
        self.store.abandon(request.run_id, outcome)
        return RunResult(request.run_id, "failed", category=FailureCategory.CONFIG, error=exc)

    def _unclaimed(self, request: RunRequest, claim: Claim, attempt: int) -> RunResult:
        if claim is Claim.BUSY:
            log.info("run %s is live elsewhere; looking again in %.0f s", request.run_id, self.config.lost_after)
            return RunResult(request.run_id, "deferred", attempt, retry_in=self.config.lost_after)
        log.info("dropping duplicate delivery of run %s (%s)", request.run_id, claim.value)
        return RunResult(request.run_id, "duplicate", attempt)

    def _overlap(self, request: RunRequest, cls: type[Collector], attempt: int, lock_key: str) -> RunResult:
        holder = self.locks.holder(lock_key)
        message = f"{cls.name} with these params is already running (run {holder})"
        if (request.overlap or cls.overlap) == "queue":
            self.store.finish(request.run_id, attempt, Outcome("queued", error_message=message))
            return RunResult(request.run_id, "deferred", attempt, retry_in=self.config.queue_wait)
        self.store.finish(request.run_id, attempt, Outcome("skipped", error_message=f"skipped: {message}"))
        log.info("run %s skipped: %s", request.run_id, message)
        return RunResult(request.run_id, "skipped", attempt)
