"""Group status: what each group's last batch did. Pure: the batches come from history.

A **batch** is the runs of one group started together: the group's entries that one ``harvester
beat`` tick found due (sent as one batch message, run one after another), or the group's entries
that one ``harvester run-scheduled`` run. Each run of a batch carries its ``batch_id``, which sorts
by the moment the batch was made, so the newest batch of a group is its greatest id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from harvester.schedule.entries import Schedule

#: Statuses counted as failed, and as not finished yet, in a batch's figures.
FAILED = ("failed",)
UNFINISHED = ("queued", "running", "waiting", "retrying")


@dataclass(frozen=True)
class Batch:
    """One batch of a group: when it started and ended, and its runs by status."""

    batch_id: str
    started_at: datetime  # its first run was recorded
    ended_at: datetime | None  # its last run ended; None while one has not
    counts: Mapping[str, int]  # runs by status

    @property
    def runs(self) -> int:
        return sum(self.counts.values())

    @property
    def succeeded(self) -> int:
        return self.counts.get("succeeded", 0)

    @property
    def failed(self) -> int:
        return sum(self.counts.get(status, 0) for status in FAILED)

    @property
    def unfinished(self) -> int:
        return sum(self.counts.get(status, 0) for status in UNFINISHED)

    @property
    def outcome(self) -> str:
        """``running`` while a run has not ended, then ``failed`` if one failed, else ``succeeded``
        (a batch whose runs were all skipped, cancelled or expired is ``skipped``)."""
        if self.unfinished:
            return "running"
        if self.failed:
            return "failed"
        return "succeeded" if self.succeeded else "skipped"

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "outcome": self.outcome,
            "runs": self.runs,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "unfinished": self.unfinished,
            "counts": dict(self.counts),
        }


@dataclass(frozen=True)
class GroupView:
    """A group of the schedule file: its enabled entries and its last batch (None: never ran)."""

    name: str
    entries: int
    last_batch: Batch | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.name,
            "entries": self.entries,
            "last_batch": self.last_batch.as_dict() if self.last_batch is not None else None,
        }


def group_names(schedule: Schedule) -> list[str]:
    """The groups with an enabled entry, in file order."""
    return list(dict.fromkeys(entry.group for entry in schedule.enabled))


def group_views(schedule: Schedule, last_batches: Mapping[str, Batch]) -> list[GroupView]:
    """Each group with an enabled entry, in file order; ``last_batches`` is ``Store.last_batches()``."""
    return [
        GroupView(name, sum(1 for e in schedule.enabled if e.group == name), last_batches.get(name))
        for name in group_names(schedule)
    ]
