"""The Celery app factory, harvester's tasks and the Celery dispatcher. Thin like a web view:
decode, call the runner. The run row in history is the record of what must run; a message is its
doorbell (see :mod:`harvester.execution.dispatcher`)."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from billiard.exceptions import TimeLimitExceeded
from celery import Celery, Task
from celery.signals import worker_init, worker_process_init, worker_ready, worker_shutdown
from kombu.exceptions import KombuError
from kombu.utils.url import maybe_sanitize_url

from harvester.dispatch import embedded
from harvester.dispatch.quarantine import DEAD_LETTER_QUEUE, QuarantineConsumer, send_to_dead_letters
from harvester.dispatch.timers import CompactTimers
from harvester.errors import RunFailed
from harvester.execution.checks import CheckTarget, run_checks
from harvester.execution.dispatcher import DispatchError
from harvester.execution.recovery import Recovery
from harvester.execution.runner import Runner, RunResult
from harvester.history.checks import CheckStore
from harvester.history.engine import DatabaseError
from harvester.history.store import Outcome, Store
from harvester.registry import Registry
from harvester.request import MessageError, RunRequest
from harvester.settings import Settings

log = logging.getLogger(__name__)

RUN_TASK = "harvester.run"
MEMBER_TASK = "harvester.member"
GATHER_TASK = "harvester.gather"
REAP_TASK = "harvester.reap"
BATCH_TASK = "harvester.batch"
CHECK_TASK = "harvester.check"
DEFAULT_QUEUE = "harvester"
#: Seconds between polls of the embedded file broker: a poll is one listdir, cheap when idle, prompt when busy.
EMBEDDED_POLLING_INTERVAL = 0.02
#: Upper bound of the wait before a delivery that met a database error is tried again.
DATABASE_RETRY_MAX = 60.0

T = TypeVar("T")

#: Options of every task that carries runs: each app gets its own task bound to its own host
#: (``shared=False``); acknowledged once the run ended and requeued when its process dies; no
#: result (history is the result store); a database outage is retried for as long as it lasts.
DELIVERY: dict[str, Any] = {
    "shared": False,
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    "max_retries": None,
}


class TaskHost(Protocol):
    """What the tasks need from the composition root (handed in; dispatch never builds it)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def registry(self) -> Registry: ...

    @property
    def store(self) -> Store: ...

    @property
    def runner(self) -> Runner: ...

    @property
    def recovery(self) -> Recovery: ...

    def after_fork(self) -> None: ...


#: Celery settings harvester relies on whatever the deployment: JSON only, a message is acknowledged
#: only after its run ended (and requeued when the process running it dies), UTC, our logging.
SAFE_DELIVERY: dict[str, Any] = {
    "task_serializer": "json",
    "result_serializer": "json",
    "accept_content": ["json"],
    "result_accept_content": ["json"],
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "broker_connection_retry_on_startup": True,
    "enable_utc": True,
    "timezone": "UTC",
    "worker_hijack_root_logger": False,
}


def file_broker_options(folder: Path) -> dict[str, Any]:
    """kombu ``filesystem://`` options keeping every file under ``folder`` (messages are deleted once read)."""
    queue_dir, control_dir = folder / "queue", folder / "control"
    for path in (queue_dir, control_dir):
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o700)  # messages carry params: only the owner may list or read them
    return {
        "data_folder_in": str(queue_dir),
        "data_folder_out": str(queue_dir),
        "control_folder": str(control_dir),
        "store_processed": False,
        "polling_interval": EMBEDDED_POLLING_INTERVAL,
    }


def broker_options(settings: Settings) -> dict[str, Any]:
    if settings.embedded:
        (settings.data_dir.resolve() / "results").mkdir(parents=True, exist_ok=True)
        return file_broker_options(settings.data_dir.resolve() / "broker")
    return {"visibility_timeout": settings.visibility_timeout}


def make_celery(host: TaskHost) -> Celery:
    """A Celery app configured from settings, with the generic run task and recovery."""
    settings = host.settings
    app = Celery(
        "harvester",
        broker=embedded.celery_url(settings.effective_broker_url),
        backend=settings.effective_result_backend,
        set_as_current=False,
    )
    app.conf.update(
        **SAFE_DELIVERY,
        task_default_queue=DEFAULT_QUEUE,
        worker_prefetch_multiplier=settings.prefetch_multiplier,
        worker_max_tasks_per_child=settings.max_tasks_per_child,
        worker_max_memory_per_child=settings.max_memory_per_child * 1024 or None,  # Celery counts KiB
        worker_concurrency=settings.concurrency,
        task_soft_time_limit=settings.task_time_limit,
        task_time_limit=settings.task_time_limit + 30,
        broker_transport_options=broker_options(settings),
        result_expires=86400,
        # a message the worker cannot take goes to the dead-letter queue instead of stopping it
        worker_consumer=f"{QuarantineConsumer.__module__}:{QuarantineConsumer.__qualname__}",
    )
    app.steps["worker"].add(CompactTimers)  # time-limit timers of ended runs must not pile up
    _register_tasks(app, host)
    _connect_worker_signals(app, host)
    return app


def recovery_interval(settings: Settings) -> float:
    """Seconds between recovery passes: often enough to notice a lost attempt within ``lost_after``."""
    return max(min(settings.lost_after, settings.redeliver_after) / 2, 1.0)


def _connect_worker_signals(app: Celery, host: TaskHost) -> None:
    @worker_process_init.connect(weak=False)
    def _after_fork(**_: Any) -> None:
        host.after_fork()

    @worker_init.connect(weak=False)
    @worker_ready.connect(weak=False)
    def _freeze(sender: Any = None, **_: Any) -> None:
        # The pool runs a full gc.collect() in the worker's main process before every fork of a child
        # (every max_tasks_per_child runs), and delivery stalls meanwhile. What start-up built lives as
        # long as the worker: frozen, it is skipped by those collections (and its pages stay shared).
        if getattr(sender, "app", None) is app:
            gc.collect()
            gc.freeze()

    stop = threading.Event()

    @worker_ready.connect(weak=False)
    def _start_recovery(sender: Any = None, **_: Any) -> None:
        # Every worker runs recovery too: it must not depend on where beat runs, nor on which
        # queues this worker consumes (the reap task goes to the default queue).
        if getattr(sender, "app", None) is app:
            interval = recovery_interval(host.settings)
            threading.Thread(
                target=_recovery_loop, args=(host, interval, stop), name="harvester-recovery", daemon=True
            ).start()

    @worker_shutdown.connect(weak=False)
    def _stop_recovery(sender: Any = None, **_: Any) -> None:
        if getattr(sender, "app", None) is app:
            stop.set()


def _recovery_loop(host: TaskHost, interval: float, stop: threading.Event) -> None:
    """A pass at once (what stranded while no worker ran is sent now), then every ``interval``."""
    while True:
        try:
            host.recovery.run()
        except Exception:
            log.exception("recovery pass failed; trying again in %.0f s", interval)
        if stop.wait(interval):
            return


def _database_retry(task: Task[Any, Any], work: Callable[[], T], shown: str) -> T:
    """Run ``work``; a database error (unreachable, serialization failure) retries the delivery with
    backoff, for as long as it takes (the tasks have ``max_retries=None``), instead of acking it as a
    failure. If even that cannot be sent, the run row is still there: recovery sends it again once
    overdue. ``shown``: how the retried message shows in Flower (never its params: secrets)."""
    try:
        return work()
    except DatabaseError as exc:
        countdown = min(DATABASE_RETRY_MAX, 2.0 ** min(task.request.retries, 10))
        log.warning("database error in %s (%s); delivery retried in %.0f s", task.name, type(exc).__name__, countdown)
        raise task.retry(exc=exc, countdown=countdown, argsrepr=shown, kwargsrepr="{}") from exc


def _decode(
    task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any], decode: Callable[[object], T]
) -> T | None:
    """The one argument of a harvester task, decoded; None when the message is poison: then it is
    logged (without its content), copied to the dead-letter queue and acknowledged."""
    try:
        if kwargs or len(args) != 1:
            raise MessageError(f"{len(args)} arguments and {len(kwargs)} keyword arguments, not one argument")
        return decode(args[0])
    except MessageError as exc:
        reason = f"not a {task.name} message: {exc}"
        log.error("poison message %s moved to %s: %s", task.request.id, DEAD_LETTER_QUEUE, reason)
        headers = {"task": task.name, "id": task.request.id}
        send_to_dead_letters(task.app, {"args": list(args), "kwargs": kwargs}, reason=reason, headers=headers)
        return None


def _batch_requests(body: object) -> list[RunRequest]:
    if not isinstance(body, dict) or set(body) != {"runs"} or not isinstance(body["runs"], list):
        raise MessageError('a batch message is {"runs": [run messages]}')
    return [RunRequest.from_message(message) for message in body["runs"]]


def _register_tasks(app: Celery, host: TaskHost) -> None:
    _register_run_tasks(app, host)
    _register_flow_tasks(app, host)
    _register_check_task(app, host)


#: Options of the probe task: acknowledged when received (a probe lost with its worker, or one that
#: kills its process, is made again at its next interval, not redelivered in a loop); a database
#: outage retried a few times, then left to the next interval too.
CHECK_DELIVERY: dict[str, Any] = {
    "shared": False,
    "bind": True,
    "acks_late": False,
    "reject_on_worker_lost": False,
    "ignore_result": True,
    "max_retries": 5,
}


def _register_check_task(app: Celery, host: TaskHost) -> None:
    @app.task(name=CHECK_TASK, **CHECK_DELIVERY)
    def check(task: Task[Any, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Probe one collector (a schedule entry's ``check:``) on this worker, where its credentials
        are, and store the result (the alert loop reads it from there)."""
        target = _decode(task, args, kwargs, CheckTarget.from_message)
        if target is None:
            return {"status": "dead-letter"}
        if target.collector not in host.registry:
            log.error(
                "check of unknown collector %r dropped: is this worker's HARVESTER_COLLECTORS beat's?", target.collector
            )
            return {"status": "unknown collector"}
        (result,) = run_checks(host.registry, [target], host.settings.check_timeout)
        shown = f"check of {target.collector}"
        _database_retry(task, lambda: CheckStore(host.store).record([result], "schedule"), shown)
        level = logging.INFO if result.ok else logging.WARNING
        log.log(
            level,
            "check of %s (%s): %s %s",
            target.collector,
            target.label,
            "ok" if result.ok else "failed",
            result.detail,
        )
        return {"collector": target.collector, "ok": result.ok}


def send_checks(app: Celery, registry: Registry, targets: Sequence[CheckTarget]) -> None:
    """Send probes to the workers, each to its entry's (or collector's) queue; raises what the broker
    raises when it cannot take them."""
    with app.producer_or_acquire() as producer:
        for target in targets:
            cls = registry.get(target.collector)
            app.send_task(
                CHECK_TASK,
                args=[target.to_message()],
                producer=producer,
                queue=target.queue or cls.queue or DEFAULT_QUEUE,
                ignore_result=True,
                argsrepr=f"check of {target.collector}",
                kwargsrepr="{}",
            )


def _register_run_tasks(app: Celery, host: TaskHost) -> None:
    """The tasks that execute one run: ``run``, and ``member`` for a fan-out's members."""

    class RunTask(Task):  # type: ignore[misc]
        def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
            # A hard time limit kills the process: the run cannot record its end, so the worker does.
            if isinstance(exc, TimeLimitExceeded):
                message = f"hard time limit exceeded: the process was killed {exc}s in"
                body = args[0] if args and isinstance(args[0], dict) else {}
                parent, parent_params = body.get("parent_run_id"), body.get("parent_params")
                outcome = Outcome("failed", error_category="timeout", error_phase="collect", error_message=message)
                host.runner.abandon(
                    task_id,
                    outcome,
                    parent if isinstance(parent, str) else None,
                    parent_params if isinstance(parent_params, dict) else None,
                )

    def deliver(task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> RunResult | None:
        request = _decode(task, args, kwargs, RunRequest.from_message)
        if request is None:
            return None
        return _database_retry(task, lambda: host.runner.execute(request), request.describe())

    @app.task(name=RUN_TASK, base=RunTask, throws=(RunFailed,), **DELIVERY)
    def run(task: Task[Any, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Run one collector; a failure is raised as RunFailed so the task shows it too (without a
        traceback in the worker's log: the runner logged it)."""
        result = deliver(task, args, kwargs)
        if result is None:
            return {"status": "dead-letter"}
        if result.status == "failed":
            raise RunFailed(f"run {result.run_id} failed: {result.message or result.status}")
        return {"run_id": result.run_id, "status": result.status}

    @app.task(name=MEMBER_TASK, base=RunTask, **DELIVERY)
    def member(task: Task[Any, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Run one member of a fan-out. Its end, failed or not, is in history, where gather reads it."""
        result = deliver(task, args, kwargs)
        if result is None:
            return {"status": "dead-letter"}
        return {"run_id": result.run_id, "status": result.status}


def _register_flow_tasks(app: Celery, host: TaskHost) -> None:
    """The tasks around runs: a fan-out's gather, a schedule group's batch, recovery."""

    @app.task(name=GATHER_TASK, throws=(RunFailed,), **DELIVERY)
    def gather(task: Task[Any, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Finish the fan-out parent from its members' history (sent by its last member, or recovery)."""
        parent = _decode(task, args, kwargs, RunRequest.from_message)
        if parent is None:
            return {"status": "dead-letter"}
        result = _database_retry(task, lambda: host.runner.gather(parent), f"gather of {parent.describe()}")
        if result.status == "failed":
            raise RunFailed(f"run {result.run_id} failed in gather: {result.message or result.status}")
        return {"run_id": result.run_id, "status": result.status}

    @app.task(name=BATCH_TASK, **DELIVERY)
    def batch(task: Task[Any, Any], *args: Any, **kwargs: Any) -> list[str]:
        """A schedule group's due entries, one after another in file order, on this worker."""
        requests = _decode(task, args, kwargs, _batch_requests)
        if requests is None:
            return ["dead-letter"]
        results = _database_retry(task, lambda: host.runner.execute_batch(requests), f"batch of {len(requests)} runs")
        return [result.status for result in results]

    @app.task(name=REAP_TASK, shared=False, ignore_result=True)
    def reap() -> int:
        """One recovery pass when something sends it (Flower, send_task); beat and every worker run their own."""
        return host.recovery.run().total


class CeleryDispatcher:
    """Sends doorbells through Celery: a run's message goes to its collector's queue with its time limit."""

    def __init__(self, app: Celery, registry: Registry, settings: Settings) -> None:
        self.app = app
        self.registry = registry
        self.settings = settings
        self._errors: tuple[type[BaseException], ...] | None = None

    def publish(self, requests: Sequence[RunRequest], *, countdown: float | None = None) -> None:
        """Send run messages in one producer; raises DispatchError when the broker cannot take them."""
        if not requests:
            return
        # producer.batch(): one pipelined round trip (Redis) and one client for all the messages
        with self._broker_errors(), self.app.producer_or_acquire() as producer, producer.batch():
            for request in requests:
                # History is the result store: no result subscription per message (ignore_result).
                self.app.send_task(
                    MEMBER_TASK if request.parent_run_id is not None else RUN_TASK,
                    args=[request.to_message()],
                    task_id=request.run_id,
                    producer=producer,
                    ignore_result=True,
                    countdown=countdown,
                    **self._options(request),
                )

    def publish_gather(self, parent: RunRequest) -> None:
        with self._broker_errors():
            self.app.send_task(GATHER_TASK, args=[parent.to_message()], ignore_result=True, **self._options(parent))

    def revoke(self, run_ids: Sequence[str]) -> None:
        """Celery's revoke with terminate: every worker drops these tasks' messages, and the one
        running a task stops its process (SIGTERM; the pool starts a new one)."""
        with self._broker_errors():
            self.app.control.revoke(list(run_ids), terminate=True, signal="SIGTERM")

    def consumers(self, queue: str, timeout: float = 2.0) -> int | None:
        """How many workers consume ``queue``: Celery's broadcast ``active_queues``, answered by every
        worker on this broker within ``timeout`` seconds (so the call takes that long). None when the
        broker cannot be reached; 0 when no worker answers, or none of those that do consume it."""
        try:
            with self._broker_errors():
                answers = self.app.control.inspect(timeout=timeout).active_queues() or {}
        except DispatchError as exc:
            log.info("cannot ask the workers which queues they consume: %s", exc)
            return None
        return sum(1 for queues in answers.values() if any(q.get("name") == queue for q in queues or ()))

    def queue_of(self, request: RunRequest) -> str:
        """The queue a run's message goes to: the request's, else its collector's, else the default."""
        cls = self.registry.get(request.collector) if request.collector in self.registry else None
        return request.queue or (cls.queue if cls else None) or DEFAULT_QUEUE

    def publish_batch(self, requests: Sequence[RunRequest]) -> None:
        """Send recorded runs as one batch message to the first run's queue; its time limit is the
        sum of its collectors' limits."""
        self.publish_batches([requests])

    def publish_batches(self, batches: Sequence[Sequence[RunRequest]]) -> None:
        """:meth:`publish_batch` of each batch, through one producer and one pipelined round trip."""
        registry, settings = self.registry, self.settings
        with self._broker_errors(), self.app.producer_or_acquire() as producer, producer.batch():
            for requests in batches:
                limit = sum(registry.get(r.collector).time_limit or settings.task_time_limit for r in requests)
                self.app.send_task(
                    BATCH_TASK,
                    args=[{"runs": [r.to_message() for r in requests]}],
                    producer=producer,
                    queue=requests[0].queue or registry.get(requests[0].collector).queue or DEFAULT_QUEUE,
                    soft_time_limit=limit,
                    time_limit=limit + 30,
                    ignore_result=True,
                    # Celery would build these with saferepr() of the whole batch on every send
                    argsrepr=f"batch of {len(requests)} runs",
                    kwargsrepr="{}",
                )

    def _options(self, request: RunRequest) -> dict[str, Any]:
        """Where a run's message goes, its time limits (the collector's ``queue`` and ``time_limit``)
        and how it is shown."""
        cls = self.registry.get(request.collector) if request.collector in self.registry else None
        options: dict[str, Any] = {
            "queue": self.queue_of(request),
            # Celery would build these with saferepr() on every send, costing more than the send itself
            "argsrepr": request.describe(),
            "kwargsrepr": "{}",
        }
        if cls is not None and cls.time_limit is not None:
            options.update(soft_time_limit=cls.time_limit, time_limit=cls.time_limit + 30)
        return options

    @contextmanager
    def _broker_errors(self) -> Iterator[None]:
        """Turns what kombu or the broker's client raises when it cannot take a message into DispatchError."""
        if self._errors is None:
            with self.app.connection_for_write() as conn:
                self._errors = (KombuError, OSError, *conn.connection_errors, *conn.channel_errors)
        try:
            yield
        except self._errors as exc:
            where = maybe_sanitize_url(self.app.conf.broker_url) or "the broker"
            raise DispatchError(f"broker unreachable at {where}: {type(exc).__name__}: {exc}") from exc
