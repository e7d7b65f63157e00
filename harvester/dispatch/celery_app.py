"""The Celery app factory and harvester's tasks. Thin like a web view: decode, call the runner."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from billiard.exceptions import TimeLimitExceeded
from celery import Celery, Task, chord, states
from celery.signals import worker_init, worker_process_init, worker_ready

from harvester.dispatch import embedded
from harvester.errors import ConfigError
from harvester.execution.runner import RunResult
from harvester.history.store import Outcome
from harvester.request import RunRequest

if TYPE_CHECKING:
    from harvester.app import Harvester

RUN_TASK = "harvester.run"
MEMBER_TASK = "harvester.member"
GATHER_TASK = "harvester.gather"
REAP_TASK = "harvester.reap"
BATCH_TASK = "harvester.batch"
DEFAULT_QUEUE = "harvester"
#: Seconds between polls of the embedded file broker: a poll is one listdir, cheap when idle, prompt when busy.
EMBEDDED_POLLING_INTERVAL = 0.02


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
    queue_dir.mkdir(parents=True, exist_ok=True)
    control_dir.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(queue_dir),
        "data_folder_out": str(queue_dir),
        "control_folder": str(control_dir),
        "store_processed": False,
        "polling_interval": EMBEDDED_POLLING_INTERVAL,
    }


def broker_options(hv: Harvester) -> dict[str, Any]:
    settings = hv.settings
    if settings.embedded:
        (settings.data_dir.resolve() / "results").mkdir(parents=True, exist_ok=True)
        return file_broker_options(settings.data_dir.resolve() / "broker")
    return {"visibility_timeout": settings.visibility_timeout}


def make_celery(hv: Harvester) -> Celery:
    """A Celery app configured from settings, with the generic run task and the reaper."""
    settings = hv.settings
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
        worker_concurrency=settings.concurrency,
        task_soft_time_limit=settings.task_time_limit,
        task_time_limit=settings.task_time_limit + 30,
        broker_transport_options=broker_options(hv),
        result_expires=86400,
        beat_schedule={
            "harvester-reap": {"task": REAP_TASK, "schedule": max(settings.lost_after / 2, 1.0)},
        },
    )
    _register_tasks(app, hv)

    @worker_process_init.connect(weak=False)
    def _after_fork(**_: Any) -> None:
        hv.after_fork()

    @worker_init.connect(weak=False)
    @worker_ready.connect(weak=False)
    def _freeze(sender: Any = None, **_: Any) -> None:
        # The pool runs a full gc.collect() in the worker's main process before every fork of a child
        # (every max_tasks_per_child runs), and delivery stalls meanwhile. What start-up built lives as
        # long as the worker: frozen, it is skipped by those collections (and its pages stay shared).
        if getattr(sender, "app", None) is app:
            gc.collect()
            gc.freeze()

    return app


def _register_tasks(app: Celery, hv: Harvester) -> None:
    _register_run_tasks(app, hv)
    _register_flow_tasks(app, hv)


def _register_run_tasks(app: Celery, hv: Harvester) -> None:
    """The tasks that execute one run: ``run``, and ``member`` for a fan-out's members."""

    class RunTask(Task):  # type: ignore[misc]
        def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
            # A hard time limit kills the process: the run cannot record its end, so the worker does.
            if isinstance(exc, TimeLimitExceeded):
                message = f"hard time limit exceeded: the process was killed {exc}s in"
                hv.store.abandon(
                    task_id, Outcome("failed", error_category="timeout", error_phase="collect", error_message=message)
                )

    def deliver(task: Task[Any, Any], body: dict[str, Any]) -> RunResult:
        request = RunRequest.from_message(body)
        result = hv.runner.execute(request)
        if result.status == "fanout":
            result = hv.dispatch_fanout(request, result)
        if result.status in ("retrying", "deferred"):
            raise task.retry(countdown=result.retry_in, max_retries=None)
        return result

    @app.task(
        name=RUN_TASK,
        shared=False,  # each app gets its own task bound to its own Harvester
        base=RunTask,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        ignore_result=True,
        throws=(ConfigError,),
    )
    def run(task: Task[Any, Any], body: dict[str, Any]) -> dict[str, Any]:
        """Run one collector; failures are re-raised so the task shows them too."""
        result = deliver(task, body)
        if result.status == "failed" and result.error is not None:
            raise result.error
        return {"run_id": result.run_id, "status": result.status}

    @app.task(name=MEMBER_TASK, shared=False, base=RunTask, bind=True, acks_late=True, reject_on_worker_lost=True)
    def member(task: Task[Any, Any], body: dict[str, Any]) -> dict[str, Any]:
        """Run one member of a fan-out. Its end, failed or not, completes its part of the chord:
        the failure is in history, where gather reads it; a raised error would break the chord."""
        result = deliver(task, body)
        return {"run_id": result.run_id, "status": result.status}


def _register_flow_tasks(app: Celery, hv: Harvester) -> None:
    """The tasks around runs: a fan-out's gather, a schedule group's batch, the reaper."""

    @app.task(name=GATHER_TASK, shared=False, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
    def gather(body: dict[str, Any]) -> dict[str, Any]:
        """The chord's callback: finish the fan-out parent from its members' history."""
        result = hv.runner.gather(RunRequest.from_message(body))
        if result.status == "failed" and result.error is not None:
            raise result.error
        return {"run_id": result.run_id, "status": result.status}

    @app.task(name=BATCH_TASK, shared=False, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
    def batch(task: Task[Any, Any], body: dict[str, Any]) -> list[str]:
        """A schedule group's due entries, one after another in file order, on this worker."""
        results = hv.execute_batch([RunRequest.from_message(message) for message in body["runs"]])
        return [result.status for result in results]

    @app.task(name=REAP_TASK, shared=False, ignore_result=True)
    def reap() -> int:
        """Close runs whose worker died: re-enqueue them, or fail them when that is not possible."""
        return hv.reap()


def _options(hv: Harvester, request: RunRequest) -> dict[str, Any]:
    """Where a run's message goes, its time limits (the collector's ``queue`` and ``time_limit``) and
    how it is shown."""
    cls = hv.registry.get(request.collector)
    options: dict[str, Any] = {
        "queue": request.queue or cls.queue or DEFAULT_QUEUE,
        # Celery would build these with saferepr() on every send, costing more than the send itself
        "argsrepr": request.describe(),
        "kwargsrepr": "{}",
    }
    if cls.time_limit is not None:
        options.update(soft_time_limit=cls.time_limit, time_limit=cls.time_limit + 30)
    return options


def publish(hv: Harvester, requests: list[RunRequest] | tuple[RunRequest, ...] | Any) -> None:
    """Send run messages; each collector's ``queue`` and ``time_limit`` travel with its message.

    A fan-out member sent again (the reaper) stores its task result, so a polling chord sees it end.
    """
    app = hv.celery
    with app.producer_or_acquire() as producer:
        for request in requests:
            member = request.parent_run_id is not None
            # History is the result store: no result subscription per message (ignore_result).
            app.send_task(
                MEMBER_TASK if member else RUN_TASK,
                args=[request.to_message()],
                task_id=request.run_id,
                producer=producer,
                ignore_result=not member,
                **_options(hv, request),
            )


def publish_fanout(hv: Harvester, parent: RunRequest, members: Sequence[RunRequest]) -> None:
    """Send a fan-out's members as a Celery chord whose callback gathers the parent."""
    app = hv.celery
    header = [app.signature(MEMBER_TASK, args=[m.to_message()], task_id=m.run_id, **_options(hv, m)) for m in members]
    callback = app.signature(GATHER_TASK, args=[parent.to_message()], immutable=True, **_options(hv, parent))
    chord(header, app=app)(callback)


def publish_gather(hv: Harvester, parent: RunRequest) -> None:
    """Send a parent's gather on its own (the reaper's backstop when the chord cannot call back)."""
    hv.celery.send_task(GATHER_TASK, args=[parent.to_message()], ignore_result=True, **_options(hv, parent))


def settle_member(hv: Harvester, run_id: str) -> None:
    """A member closed outside its task (the reaper failed it): store its task result anyway, so a
    chord that polls for results (the embedded and database backends) ends instead of polling on."""
    hv.celery.backend.store_result(run_id, {"run_id": run_id, "status": "failed"}, states.SUCCESS)


def publish_batch(hv: Harvester, requests: list[RunRequest] | tuple[RunRequest, ...] | Any) -> None:
    """Send recorded runs as one batch message to the first run's queue; its time limit is the sum of
    its collectors' limits."""
    limit = sum(hv.registry.get(r.collector).time_limit or hv.settings.task_time_limit for r in requests)
    hv.celery.send_task(
        BATCH_TASK,
        args=[{"runs": [r.to_message() for r in requests]}],
        queue=requests[0].queue or hv.registry.get(requests[0].collector).queue or DEFAULT_QUEUE,
        soft_time_limit=limit,
        time_limit=limit + 30,
        ignore_result=True,
    )
