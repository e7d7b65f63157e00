"""The run state machine: every status a run can have and every move between them, in one place.

Each transition is one guarded statement in the store (``UPDATE ... WHERE id AND attempt AND
status IN (sources) RETURNING``): a write whose guard matches nothing changed nothing, and the
writes that go with it (state, a parent's count) roll back with it. docs/history.md draws this.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RunStatus(StrEnum):
    QUEUED = "queued"  # recorded, due at next_attempt_at; a message (the doorbell) is on its way
    RUNNING = "running"  # an attempt holds it (heartbeat); a fan-out parent while its gather runs
    WAITING = "waiting"  # a fan-out parent whose members run; keeps its overlap lock, no process holds it
    RETRYING = "retrying"  # an attempt failed and another is due at next_attempt_at
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"  # refused by overlap protection
    CANCELLED = "cancelled"  # a user cancelled it: it never started, or its process was stopped
    EXPIRED = "expired"  # not started by its expiry (runs.expires_at): it never runs


QUEUED, RUNNING, WAITING, RETRYING = RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING, RunStatus.RETRYING
SUCCEEDED, FAILED, SKIPPED, CANCELLED = RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.SKIPPED, RunStatus.CANCELLED
EXPIRED = RunStatus.EXPIRED

#: Due to run: they carry ``next_attempt_at``, and the sweeper re-sends them once overdue.
PENDING: tuple[RunStatus, ...] = (QUEUED, RETRYING)
#: Hold the overlap lock (``runs.lock_key`` is unique among them).
LOCKING: tuple[RunStatus, ...] = (RUNNING, WAITING)
#: Final: nothing moves a run out of these.
FINISHED: tuple[RunStatus, ...] = (SUCCEEDED, FAILED, SKIPPED, CANCELLED, EXPIRED)
STATUSES: tuple[str, ...] = tuple(s.value for s in RunStatus)


@dataclass(frozen=True)
class Transition:
    name: str
    sources: tuple[RunStatus, ...]
    target: RunStatus
    why: str


def _t(name: str, sources: tuple[RunStatus, ...], target: RunStatus, why: str) -> Transition:
    return Transition(name, sources, target, why)


CLAIM = _t("claim", PENDING, RUNNING, "a delivery starts an attempt (and takes the overlap lock)")
SUCCEED = _t("succeed", (RUNNING,), SUCCEEDED, "the attempt (or the gather) ended well")
FAIL = _t("fail", (RUNNING,), FAILED, "the attempt failed for good")
RETRY = _t("retry", (RUNNING,), RETRYING, "the attempt failed; another is due after the backoff")
FAN_OUT = _t("fan_out", (RUNNING,), WAITING, "a fan-out parent recorded its members")
GATHER = _t("gather", (WAITING,), RUNNING, "the members all ended: one process gathers")
RELEASE_GATHER = _t("release_gather", (RUNNING,), WAITING, "the gathering process died: gather again")
REQUEUE_LOST = _t("requeue_lost", (RUNNING,), QUEUED, "the attempt's process died: run it again")
FAIL_LOST = _t("fail_lost", (RUNNING,), FAILED, "the attempt's process died and it cannot run again")
DEFER = _t("defer", PENDING, QUEUED, "overlap = queue: wait for the lock holder, due again later")
SKIP = _t("skip", PENDING, SKIPPED, "overlap = skip: another live run holds the lock")
ABANDON = _t("abandon", (*PENDING, RUNNING, WAITING), FAILED, "failed from outside an attempt")
CANCEL = _t("cancel", (*PENDING, RUNNING, WAITING), CANCELLED, "a user cancelled it (its process is stopped)")
#: Only a run that never started expires (``started_at`` is NULL): a retry or a redelivery of a
#: started run is not a late occurrence.
EXPIRE = _t("expire", PENDING, EXPIRED, "it had not started by its expiry (runs.expires_at)")

TRANSITIONS: tuple[Transition, ...] = (
    CLAIM,
    SUCCEED,
    FAIL,
    RETRY,
    FAN_OUT,
    GATHER,
    RELEASE_GATHER,
    REQUEUE_LOST,
    FAIL_LOST,
    DEFER,
    SKIP,
    ABANDON,
    CANCEL,
    EXPIRE,
)


def by_outcome(status: str) -> Transition:
    """The transition that records an attempt ending with ``status``."""
    return {SUCCEEDED: SUCCEED, FAILED: FAIL, RETRYING: RETRY}[RunStatus(status)]
