"""RunRequest: the value object that travels from a trigger (CLI, API, schedule) to execution."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Trigger = Literal["cli", "api", "schedule", "parent"]


def new_run_id() -> str:
    return str(uuid.uuid4())


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

    def to_message(self) -> dict[str, Any]:
        """JSON body of the Celery task message."""
        return asdict(self)

    @classmethod
    def from_message(cls, body: dict[str, Any]) -> RunRequest:
        return cls(**body)
