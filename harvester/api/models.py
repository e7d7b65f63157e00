"""The API's request and response bodies; their examples make the OpenAPI document readable."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harvester.schedule.entries import expiry_seconds

RunStatus = Literal[
    "queued", "running", "waiting", "retrying", "succeeded", "failed", "skipped", "cancelled", "expired"
]

_RUN_ID = "3f1c2a9e-8d4b-4c55-9a61-0b7d2e6f4a10"
_RUN_EXAMPLE: dict[str, Any] = {
    "run_id": _RUN_ID,
    "task_id": _RUN_ID,
    "collector": "system_metrics",
    "params": {"sample_seconds": 0.2},
    "status": "succeeded",
    "attempt": 1,
    "trigger": "api",
    "queued_at": "2026-01-05T10:00:00.120000Z",
    "started_at": "2026-01-05T10:00:00.150000Z",
    "finished_at": "2026-01-05T10:00:00.480000Z",
    "duration": 0.33,
    "records": 7,
    "result": {"host": "web-1", "metrics": 7, "cpu_percent": 3.5},
    "error_category": None,
    "error_phase": None,
    "error_message": None,
    "parent_run_id": None,
    "worker": "web-1:4242",
    "progress": {"done": 7, "total": 7},
}


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class ErrorBody(BaseModel):
    """An error: ``detail`` says what is wrong and, when it can, how to fix it."""

    model_config = _examples({"detail": "unknown collector 'githb_stars' (did you mean 'github_stars'?)"})
    detail: str


class FieldProblem(BaseModel):
    loc: list[str | int] = Field(description="Where: e.g. ['body', 'params', 'repo'].")
    msg: str
    type: str


class ValidationErrorBody(BaseModel):
    """422: each problem names its field; input values are never echoed (they may be secrets)."""

    model_config = _examples(
        {
            "detail": [
                {"loc": ["body", "params", "sample_seconds"], "msg": "Input should be a valid number", "type": "params"}
            ]
        }
    )
    detail: list[FieldProblem]


class TriggerBody(BaseModel):
    """What to run. ``params`` are validated against the collector's ``Params``."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,  # `"force": 0` is a mistake, not false
        json_schema_extra={
            "examples": [
                {"collector": "system_metrics", "params": {"sample_seconds": 0.5}},
                {"collector": "python_packages", "params": {}, "async_mode": False, "force": True},
            ]
        },
    )
    collector: str = Field(description="Registered collector name (see GET /api/v1/collectors).")
    params: dict[str, Any] = Field(default_factory=dict, description="The collector's params, by field name.")
    async_mode: bool = Field(True, description="true: answer 202 at once; false: wait for the run to finish.")
    force: bool = Field(False, description="Run even if the same collector + params is already running.")
    expires: float | str | None = Field(
        None,
        description="If no worker started the run within this long, it is recorded `expired` instead of "
        "running late: seconds (90) or a duration ('10m', '2h'); null, 0 or 'never': it never expires.",
        examples=[600, "10m"],
    )

    @field_validator("expires")
    @classmethod
    def _expiry(cls, value: float | str | None) -> float | str | None:
        try:
            expiry_seconds(value)
        except ValueError:
            raise ValueError("expected seconds >= 0, a duration like 10m or 2h, or never") from None
        return value


class Progress(BaseModel):
    done: int | None = None
    total: int | None = None


class Accepted(BaseModel):
    """202: the run is recorded and on its way to a worker (or still going after a sync timeout)."""

    model_config = _examples(
        {
            "task_id": _RUN_ID,
            "run_id": _RUN_ID,
            "status": "queued",
            "started_at": "2026-01-05T10:00:00.120000Z",
            "async_mode": True,
            "collector": "system_metrics",
            "params": {"sample_seconds": 0.5},
            "status_url": f"/api/v1/collect/status/{_RUN_ID}",
            "message": "Collection task queued for system_metrics",
        }
    )
    task_id: str = Field(description="The Celery task id; equal to run_id.")
    run_id: str
    status: RunStatus
    started_at: datetime = Field(description="When the run was accepted (queued).")
    async_mode: bool
    collector: str
    params: dict[str, Any] = Field(description="The params as recorded: secrets masked.")
    status_url: str
    message: str = Field(description="What happened, for people: e.g. 'Collection task queued for system_metrics'.")


class Run(BaseModel):
    """One run as history records it (params with secrets masked)."""

    model_config = _examples(_RUN_EXAMPLE)
    run_id: str
    task_id: str | None
    collector: str
    params: dict[str, Any]
    status: RunStatus
    attempt: int
    trigger: str
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration: float | None = Field(
        description="Seconds from the run's first start to its end: every attempt and the waits between them."
    )
    records: int = Field(description="Records emitted by the run.")
    result: Any = Field(None, description="What collect() returned (JSON).")
    error_category: str | None
    error_phase: str | None
    error_message: str | None
    error_traceback: str | None = Field(
        None, description="The failed attempt's traceback (the last 16,000 characters; secret params masked)."
    )
    parent_run_id: str | None
    batch_id: str | None = Field(
        None, description="The batch it belongs to: a backfill's (backfill:...) or a schedule group's; null for others."
    )
    worker: str | None = Field(description="host:pid of the worker of the last attempt.")
    waiting_for: str | None = Field(
        None, description="What a running run waits for now, e.g. 'rate limit github' (null while it works)."
    )
    progress: Progress
    expires_at: datetime | None = Field(
        None, description="Not started by then, the run is recorded expired and never runs (null: never)."
    )
    cpu_seconds: float | None = Field(
        None, description="CPU seconds (user + system) of the process that ran the last attempt, during it."
    )
    peak_memory: int | None = Field(
        None, description="Peak resident memory in bytes of the process that ran the last attempt, during it."
    )


class TriggeredRun(Run):
    """200 of a synchronous trigger: the finished run, and what happened in words."""

    model_config = _examples({**_RUN_EXAMPLE, "message": "Collection completed for system_metrics"})
    message: str = Field(description="What happened, for people: e.g. 'Collection completed for system_metrics'.")


class Attempt(BaseModel):
    attempt: int
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    worker: str | None
    error_category: str | None
    error_message: str | None
    error_traceback: str | None = Field(None, description="This attempt's traceback, if it failed.")
    retry_in: float | None
    duration: float | None = Field(None, description="Seconds this attempt took (null while it runs).")
    records: int | None = Field(None, description="Records this attempt emitted (null: not known).")
    cpu_seconds: float | None = Field(None, description="CPU seconds (user + system) of its process during it.")
    peak_memory: int | None = Field(None, description="Peak resident memory of its process during it, bytes.")


class RunDetail(Run):
    """A run with its attempts and, for a fan-out run, the runs it started."""

    model_config = _examples(
        {
            **_RUN_EXAMPLE,
            "attempts": [
                {
                    "attempt": 1,
                    "status": "succeeded",
                    "started_at": "2026-01-05T10:00:00.150000Z",
                    "finished_at": "2026-01-05T10:00:00.480000Z",
                    "worker": "web-1:4242",
                    "error_category": None,
                    "error_message": None,
                    "retry_in": None,
                }
            ],
            "children": [],
        }
    )
    attempts: list[Attempt]
    children: list[str] = Field(description="run ids of the subcollector runs (parent_run_id = this run).")


class LogLine(BaseModel):
    id: int = Field(description="Increasing: pass the last one seen as `after` to read on.")
    attempt: int
    logged_at: datetime
    level: str
    logger: str
    message: str = Field(description="The message (with a logged exception's traceback), secrets masked.")


class RunLogs(BaseModel):
    """Lines a run logged, oldest first; poll with ``after=next_after`` until ``finished``."""

    model_config = _examples(
        {
            "run_id": _RUN_ID,
            "status": "running",
            "finished": False,
            "items": [
                {
                    "id": 41,
                    "attempt": 1,
                    "logged_at": "2026-01-05T10:00:00.200000Z",
                    "level": "INFO",
                    "logger": "harvester.collector.flaky_source",
                    "message": "fetched page 1 of 3",
                }
            ],
            "next_after": 41,
        }
    )
    run_id: str
    status: str = Field(description="The run's status when the lines were read.")
    finished: bool = Field(description="True once the run has ended: no line will follow.")
    items: list[LogLine]
    next_after: int = Field(description="`after` for the next request (unchanged when no line came).")


class Record(BaseModel):
    key: str = Field(description="The value of the key field the collector emitted it under.")
    payload: dict[str, Any] = Field(description="The record as last emitted.")
    first_seen: datetime
    last_seen: datetime = Field(description="When it was last emitted with a change.")
    run_id: str | None = Field(description="The run that last changed it.")


class RecordsPage(BaseModel):
    """A page of a collector's records, last changed first; pass ``next_cursor`` as ``cursor``."""

    model_config = _examples(
        {
            "items": [
                {
                    "key": "boostorg/boost",
                    "payload": {"repo": "boostorg/boost", "stars": 7200},
                    "first_seen": "2026-01-05T10:00:00.150000Z",
                    "last_seen": "2026-01-06T10:00:00.150000Z",
                    "run_id": _RUN_ID,
                }
            ],
            "next_cursor": None,
        }
    )
    items: list[Record]
    next_cursor: str | None = Field(description="null on the last page.")


class CancelAnswer(BaseModel):
    """A cancelled run: what it was, and every run cancelled with it (a fan-out's members)."""

    model_config = _examples({"run_id": _RUN_ID, "status": "cancelled", "was": "running", "cancelled": [_RUN_ID]})
    run_id: str
    status: Literal["cancelled"]
    was: str = Field(description="The status it had: queued, retrying, running or waiting.")
    cancelled: list[str] = Field(description="run ids cancelled: this run, then its unfinished members.")


class RunsPage(BaseModel):
    """A page of runs, newest first; pass ``next_cursor`` as ``cursor`` for the next page."""

    model_config = _examples({"items": [_RUN_EXAMPLE], "next_cursor": "MjAyNi0wMS0wNVQxMDowMDowMC4xMiswMDowMHwzZjFj"})
    items: list[Run]
    next_cursor: str | None = Field(description="null on the last page.")


class Status(BaseModel):
    """Where a run is: state, progress, and its result or error once finished."""

    model_config = _examples(
        {
            "task_id": _RUN_ID,
            "run_id": _RUN_ID,
            "collector": "flaky_source",
            "state": "retrying",
            "attempt": 1,
            "progress": {"done": None, "total": None},
            "result": None,
            "error_category": "network",
            "error_phase": "collect",
            "error_message": "upstream answered 503",
            "queued_at": "2026-01-05T10:00:00.120000Z",
            "finished_at": None,
        }
    )
    task_id: str
    run_id: str
    collector: str
    state: RunStatus
    attempt: int
    progress: Progress
    result: Any = None
    error_category: str | None
    error_phase: str | None
    error_message: str | None
    queued_at: datetime
    finished_at: datetime | None


class LastRun(BaseModel):
    run_id: str
    status: RunStatus
    queued_at: datetime
    finished_at: datetime | None


_BATCH_EXAMPLE: dict[str, Any] = {
    "batch_id": "20260105T000500.013000Z-1a2b3c4d",
    "started_at": "2026-01-05T00:05:00.013000Z",
    "ended_at": "2026-01-05T00:07:41.200000Z",
    "outcome": "failed",
    "runs": 3,
    "succeeded": 2,
    "failed": 1,
    "unfinished": 0,
    "counts": {"succeeded": 2, "failed": 1},
}


class BatchOut(BaseModel):
    """A group's batch: its runs started together (one beat dispatch of the group's due entries, or one
    `harvester run-scheduled --group`)."""

    model_config = _examples(_BATCH_EXAMPLE)
    batch_id: str = Field(description="Sorts by when the batch was made.")
    started_at: datetime = Field(description="When its first run was recorded.")
    ended_at: datetime | None = Field(description="When its last run ended; null while one has not.")
    outcome: Literal["running", "failed", "succeeded", "skipped"] = Field(
        description="running while a run has not ended; then failed if one failed; succeeded if one succeeded."
    )
    runs: int
    succeeded: int
    failed: int
    unfinished: int = Field(description="Runs queued, running, waiting or retrying.")
    counts: dict[str, int] = Field(description="Its runs by status.")


class GroupOut(BaseModel):
    """A group of the schedule file with an enabled entry, and its last batch."""

    model_config = _examples({"group": "github", "entries": 3, "last_batch": _BATCH_EXAMPLE})
    group: str
    entries: int = Field(description="Its enabled entries.")
    last_batch: BatchOut | None = Field(description="Null when the group never ran.")


class ScheduleEntryOut(BaseModel):
    name: str = Field(description="group/collector: the key of this entry in /health's freshness check.")
    group: str
    line: int = Field(description="Line of the entry in the schedule file.")
    schedule: str
    params: dict[str, Any]
    next_run: datetime
    freshness: str = Field(description="How old the last success may be, e.g. 26h.")
    status: Literal["fresh", "stale", "never run"]
    stale: bool
    last_success_at: datetime | None = Field(
        description="When a run of this entry (its group, collector, params and schedule) last succeeded."
    )
    group_last_batch: BatchOut | None = Field(None, description="The last batch of the entry's group.")


class CollectorOut(BaseModel):
    model_config = _examples(
        {
            "name": "system_metrics",
            "description": "CPU, memory, disk and load of this machine (psutil), one record per metric.",
            "queue": "harvester",
            "overlap": "skip",
            "params_schema": {
                "type": "object",
                "properties": {"sample_seconds": {"type": "number", "default": 0.2, "maximum": 10, "minimum": 0}},
            },
            "secret_params": [],
            "schedule": [
                {
                    "name": "local/system_metrics",
                    "group": "local",
                    "line": 7,
                    "schedule": "every 1m",
                    "params": {},
                    "next_run": "2026-01-05T10:01:00Z",
                    "freshness": "2m",
                    "status": "fresh",
                    "stale": False,
                    "last_success_at": "2026-01-05T10:00:00.480000Z",
                    "group_last_batch": None,
                }
            ],
            "last_run": {
                "run_id": _RUN_ID,
                "status": "succeeded",
                "queued_at": "2026-01-05T10:00:00.120000Z",
                "finished_at": "2026-01-05T10:00:00.480000Z",
            },
        }
    )
    name: str
    description: str
    queue: str
    overlap: str
    params_schema: dict[str, Any] = Field(description="JSON schema of Params; secret fields carry x-secret: true.")
    secret_params: list[str]
    schedule: list[ScheduleEntryOut] = Field(description="Enabled entries of the schedule file for this collector.")
    last_run: LastRun | None


class Check(BaseModel):
    ok: bool
    latency_ms: float | None = None
    error: str | None = Field(
        None, description="A fixed code: unreachable, timeout, no_workers, invalid, missing, probe_failed."
    )
    details: dict[str, Any] = Field(default_factory=dict)


class EntryFreshness(BaseModel):
    last_success_at: datetime | None
    stale: bool
    status: Literal["fresh", "stale", "never run"]


class HealthChecks(BaseModel):
    database: Check
    broker: Check
    workers: Check
    schedule: Check
    freshness: dict[str, EntryFreshness]
    collectors: Check | None = Field(
        None, description="Only with ?checks=collectors: each collector probe's latest result (details.probes)."
    )


class Health(BaseModel):
    model_config = _examples(
        {
            "status": "unhealthy",
            "checks": {
                "database": {"ok": True, "latency_ms": 0.8, "error": None, "details": {}},
                "broker": {"ok": False, "latency_ms": 2001.4, "error": "timeout", "details": {}},
                "workers": {"ok": False, "latency_ms": 1.2, "error": "unreachable", "details": {}},
                "schedule": {"ok": True, "latency_ms": 3.1, "error": None, "details": {"entries": 3, "problems": []}},
                "freshness": {
                    "local/system_metrics": {
                        "last_success_at": "2026-01-05T10:00:00.480000Z",
                        "stale": False,
                        "status": "fresh",
                    }
                },
            },
        }
    )
    status: Literal["healthy", "unhealthy"]
    checks: HealthChecks
