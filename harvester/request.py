"""RunRequest: the value object that travels from a trigger (CLI, API, schedule) to execution."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Trigger = Literal["cli", "api", "schedule", "parent", "backfill"]
TRIGGERS = ("cli", "api", "schedule", "parent", "backfill")
OVERLAPS = ("skip", "queue")
#: RunRequest fields a message carries only when they are set.
_OPTIONAL = ("parent_run_id", "force", "queue", "overlap", "parent_params", "schedule_group", "entry_key", "batch_id")


class MessageError(ValueError):
    """A task message that is not a run request; the reason names the field, never its value."""


#: The fields a run message may carry, and their JSON types.
_FIELDS: dict[str, tuple[type, ...]] = {
    "collector": (str,),
    "params": (dict,),
    "trigger": (str,),
    "run_id": (str,),
    "parent_run_id": (str, type(None)),
    "force": (bool,),
    "queue": (str, type(None)),
    "overlap": (str, type(None)),
    "parent_params": (dict, type(None)),
    "schedule_group": (str, type(None)),
    "entry_key": (str, type(None)),
    "batch_id": (str, type(None)),
}


def check_message(body: object) -> dict[str, Any]:
    """``body`` if it has the shape of a run message; MessageError naming what is wrong if not."""
    if not isinstance(body, dict):
        raise MessageError(f"a run message is a JSON object, not {type(body).__name__}")
    unknown = sorted(str(k) for k in body if k not in _FIELDS)
    if unknown:
        raise MessageError(f"unknown fields {', '.join(unknown)[:200]}")
    for name in ("collector", "run_id"):
        if name not in body:
            raise MessageError(f"field {name} is missing")
    for name, value in body.items():
        if not isinstance(value, _FIELDS[name]):
            raise MessageError(f"field {name} is {type(value).__name__}, not {_FIELDS[name][0].__name__}")
    if body.get("trigger", "cli") not in TRIGGERS or body.get("overlap") not in (*OVERLAPS, None):
        raise MessageError("field trigger or overlap has a value harvester does not know")
    return body


def new_run_id() -> str:
    return str(uuid.uuid4())


def new_batch_id(now: datetime) -> str:
    """``20260302T020000.000000Z-1a2b3c4d``: ids of a group's batches sort by the moment they were made."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%S.%fZ}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class RunRequest:
    """One run of one collector. ``params`` are wire params: validated, JSON, secrets revealed."""

    collector: str
    params: dict[str, Any] = field(default_factory=dict)
    trigger: Trigger = "cli"
    run_id: str = field(default_factory=new_run_id)
    parent_run_id: str | None = None
    force: bool = False
    queue: str | None = None  # overrides the collector's `queue` (a schedule entry's `queue:`)
    overlap: Literal["skip", "queue"] | None = None  # overrides the collector's `overlap`
    #: A member of a fan-out whose parent has secret params: the parent's wire params, for its gather
    #: (history keeps params with secrets masked, so the gather cannot be rebuilt from it alone).
    parent_params: dict[str, Any] | None = None
    #: A scheduled run: its schedule entry (``group:collector:params key:schedule hash``, see
    #: ``harvester.schedule.freshness.entry_key``), its group, and the group batch it belongs to.
    schedule_group: str | None = None
    entry_key: str | None = None
    batch_id: str | None = None
    #: Seconds from being recorded until the run, if not started by then, is recorded ``expired``
    #: (None: never). Kept on its history row (``runs.expires_at``), which the claim checks; not sent.
    expires: float | None = None

    def to_message(self) -> dict[str, Any]:
        """JSON body of the Celery task message: the fields that differ from their defaults (a
        smaller message is cheaper to build, send and decode on every run)."""
        body: dict[str, Any] = {
            "collector": self.collector,
            "params": self.params,
            "trigger": self.trigger,
            "run_id": self.run_id,
        }
        for name in _OPTIONAL:
            value = getattr(self, name)
            if value:
                body[name] = value
        return body

    def describe(self) -> str:
        """How the message shows in Flower and worker logs (Celery's ``argsrepr``): no params, which
        hold secrets revealed for the worker."""
        return f"{self.collector} run {self.run_id}"

    @classmethod
    def from_message(cls, body: object) -> RunRequest:
        """The request a task message carries; MessageError when it is not one."""
        return cls(**check_message(body))

    @classmethod
    def from_history(cls, row: Mapping[str, Any]) -> RunRequest:
        """The request of a recorded run, rebuilt from its ``runs`` row (to send it again). Params
        are as history keeps them: secrets masked."""
        return cls(
            collector=row["collector"],
            params=dict(row["params"]),
            trigger=row["trigger"],
            run_id=row["id"],
            parent_run_id=row["parent_run_id"],
            force=bool(row.get("force")),
            queue=row.get("queue"),
            overlap=row.get("overlap"),
            schedule_group=row.get("schedule_group"),
            entry_key=row.get("entry_key"),
            batch_id=row.get("batch_id"),
        )
