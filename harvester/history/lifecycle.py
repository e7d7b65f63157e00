"""Run lifecycle: record runs, claim them, end their attempts. Every move is one guarded statement.

A run's row describes its current (or last) attempt; ``run_attempts`` keeps the attempts that ended
without ending the run (retried or lost). The common path of a run costs two single-statement round
trips: the claim and the finish. The transitions themselves are listed in :mod:`history.states`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum, StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    Update,
    and_,
    bindparam,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from harvester.history.bulk import copy_rows
from harvester.history.data import DataStore, StateWrite
from harvester.history.engine import DriverStatement, utcnow
from harvester.history.models import UTCDateTime, run_attempts, runs
from harvester.history.states import (
    ABANDON,
    CANCEL,
    CLAIM,
    DEFER,
    EXPIRE,
    FAIL_LOST,
    FINISHED,
    PENDING,
    REQUEUE_LOST,
    SKIP,
    RunStatus,
    Transition,
    by_outcome,
)

#: A run whose worker died this many times fails instead of being redelivered again
#: (a collector that kills its worker, e.g. by running out of memory, must not loop forever).
MAX_LOST_ATTEMPTS = 3
#: Longest run id (``runs.id``): a longer string is no run's.
RUN_ID_LENGTH = 36


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def pid_is_dead(worker: str | None) -> bool:
    """True when ``worker`` ("host:pid") ran on this host and that process is gone."""
    if not worker or ":" not in worker:
        return False
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def status_in(statuses: Iterable[RunStatus]) -> ColumnElement[bool]:
    """The run is in one of ``statuses`` (no expanding IN, so a statement compiles once)."""
    return or_(*(runs.c.status == status.value for status in statuses))


def in_status(transition: Transition) -> ColumnElement[bool]:
    """The guard of a transition: the run is in one of its source statuses."""
    return status_in(transition.sources)


class Claim(StrEnum):
    """Outcome of :meth:`RunLifecycle.claim` for one delivery of a run's message."""

    CLAIMED = "claimed"  # this delivery runs it
    LOCKED = "locked"  # another live run of the same collector + params holds the overlap lock
    FINISHED = "finished"  # a duplicate delivery of a run that ended or waits for its members: drop it
    BUSY = "busy"  # another live attempt runs it: drop this doorbell (recovery watches that attempt)
    MISSING = "missing"  # no such run (history pruned or wrong database)
    EXPIRED = "expired"  # it had not started by its expiry: recorded expired, never runs


@dataclass(frozen=True)
class NewRun:
    run_id: str
    collector: str
    params: dict[str, Any]
    params_key: str
    trigger: str
    parent_run_id: str | None = None
    task_id: str | None = None
    member_index: int | None = None
    queue: str | None = None
    overlap: str | None = None
    force: bool = False
    schedule_group: str | None = None
    entry_key: str | None = None
    batch_id: str | None = None
    expires_in: float | None = None  # seconds from being recorded until it expires unstarted (None: never)


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended, as the store records it."""

    status: str  # succeeded | failed | retrying
    result: Any = None
    records: int = 0
    duration: float | None = None  # this attempt's seconds (the run's duration is computed from its first start)
    error_category: str | None = None
    error_phase: str | None = None
    error_message: str | None = None
    retry_in: float | None = None
    error_traceback: str | None = None
    cpu_seconds: float | None = None  # this attempt's CPU time, user + system (harvester.execution.resources)
    peak_memory: int | None = None  # this attempt's peak resident memory of its process, bytes

    def __post_init__(self) -> None:
        # Error text quotes what failed, which may hold NUL: PostgreSQL's text refuses it, and a
        # finish that fails on it would be retried forever.
        for name in ("error_message", "error_traceback"):
            text = getattr(self, name)
            if text is not None and "\x00" in text:
                object.__setattr__(self, name, text.replace("\x00", "\\x00"))


@dataclass(frozen=True)
class Cancelled:
    """What :meth:`RunLifecycle.cancel` did. ``was``: the status it found (None: no such run);
    ``stop``: runs whose process, if one runs them, must be stopped (it, and a parent's members)."""

    recorded: bool
    was: str | None
    stop: tuple[str, ...] = ()
    parent_done: bool = False  # a member whose cancel completed its parent's count


@dataclass(frozen=True)
class Ended:
    """What a guarded end of an attempt did; true when it was recorded."""

    recorded: bool  # False: the attempt was superseded (taken over, closed as lost), nothing written
    parent_done: bool = False  # this end completed its fan-out parent's count: the gather is due

    def __bool__(self) -> bool:
        return self.recorded


def not_expired(now: ColumnElement[Any] | datetime) -> ColumnElement[bool]:
    """The run may start at ``now``: it has no expiry, its expiry has not passed, or it started before."""
    return or_(runs.c.expires_at.is_(None), runs.c.expires_at > now, runs.c.started_at.is_not(None))


def expired_at(row: Any, now: datetime) -> bool:
    """Whether a due run (a ``runs`` row) had not started by its expiry at ``now``."""
    expires = row["expires_at"]
    return row["status"] in EXPIRE.sources and row["started_at"] is None and expires is not None and expires <= now


# The two statements of every run, built once: building a statement costs as much as running it.
_CLAIM = (
    update(runs)
    .where(runs.c.id == bindparam("b_run_id"), in_status(CLAIM), not_expired(bindparam("b_now")))
    .values(
        status=CLAIM.target.value,
        attempt=runs.c.attempt + 1,
        started_at=func.coalesce(runs.c.started_at, bindparam("b_now")),
        attempt_started_at=bindparam("b_now"),
        finished_at=None,
        heartbeat_at=bindparam("b_now"),
        next_attempt_at=None,
        worker=bindparam("b_worker"),
        lock_key=bindparam("b_lock_key"),
        error_category=None,
        error_phase=None,
        error_message=None,
        error_traceback=None,
        cpu_seconds=None,
        peak_memory=None,
        waiting_for=None,
    )
    .returning(runs.c.attempt)
)
_FINISH_COLUMNS = (
    "status",
    "heartbeat_at",
    "error_category",
    "error_phase",
    "error_message",
    "error_traceback",
    "records",
    "finished_at",
    "result",
    "cpu_seconds",
    "peak_memory",
)
_COUNT_MEMBER = (
    update(runs)
    .where(runs.c.id == bindparam("b_parent"))
    .values(progress_done=func.coalesce(runs.c.progress_done, 0) + 1)
    .returning(runs.c.progress_done, runs.c.members)
)


def run_seconds(dialect: str, ended: ColumnElement[Any]) -> ColumnElement[Any]:
    """Seconds from the run's first start to ``ended``, in SQL: a run's duration is its whole life
    (every attempt and the waits between them), not its last attempt's."""
    if dialect == "postgresql":
        return func.extract("epoch", ended - runs.c.started_at)
    return (func.julianday(ended) - func.julianday(runs.c.started_at)) * 86400.0


def _finish_statements(dialect: str) -> tuple[Update, Update]:
    """The end of an attempt, and a member's end counted into its parent (PostgreSQL: one statement,
    a data-modifying WITH runs to completion). Guarded: only the live attempt matches, so a
    superseded one writes nothing and counts nothing."""
    values: dict[str, Any] = {name: bindparam(f"b_{name}") for name in _FINISH_COLUMNS}
    values["duration"] = run_seconds(dialect, bindparam("b_ended", type_=UTCDateTime()))
    finish = (
        update(runs)
        .where(
            runs.c.id == bindparam("b_run_id"),
            runs.c.attempt == bindparam("b_attempt"),
            runs.c.status == RunStatus.RUNNING.value,
        )
        .values(values)
        .returning(runs.c.id)
    )
    finished = finish.cte("finished")
    return finish, _COUNT_MEMBER.where(select(finished.c.id).exists()).add_cte(finished)


def queued_rows(new: Sequence[NewRun], now: datetime | None = None) -> list[dict[str, Any]]:
    """``runs`` rows of newly recorded runs, all queued (and due) at the same moment."""
    now = now or utcnow()
    return [
        {
            "id": r.run_id,
            "collector": r.collector,
            "params": r.params,
            "params_key": r.params_key,
            "trigger": r.trigger,
            "status": RunStatus.QUEUED.value,
            "attempt": 0,
            "queued_at": now,
            "next_attempt_at": now,
            "records": 0,
            "parent_run_id": r.parent_run_id,
            "task_id": r.task_id,
            "member_index": r.member_index,
            "queue": r.queue,
            "overlap": r.overlap,
            "force": r.force,
            "schedule_group": r.schedule_group,
            "entry_key": r.entry_key,
            "batch_id": r.batch_id,
            "expires_at": None if r.expires_in is None else now + timedelta(seconds=r.expires_in),
        }
        for r in new
    ]


class _Unchecked(Enum):
    UNCHECKED = "unchecked"


#: ``mark_lost(heartbeat_seen=...)`` default: the heartbeat is not part of the guard.
UNCHECKED = _Unchecked.UNCHECKED


def _heartbeat_is(seen: datetime | _Unchecked | None) -> list[ColumnElement[bool]]:
    """The guard "its heartbeat is still the one I saw" (none when unchecked)."""
    if seen is UNCHECKED:
        return []
    if seen is None:
        return [runs.c.heartbeat_at.is_(None)]
    return [runs.c.heartbeat_at == seen]


def expiry_message(now: datetime) -> str:
    return f"expired: not started by its expiry (found at {now:%Y-%m-%d %H:%M:%S} UTC)"


def is_expired(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """The guard of ``expire``: still due, never started, its expiry passed by ``now``."""
    return (in_status(EXPIRE), runs.c.started_at.is_(None), runs.c.expires_at <= now)


def expired_values(now: datetime) -> dict[str, Any]:
    """What ``expire`` writes: ended at ``now`` without starting, its lock (none yet) cleared."""
    return {
        "status": EXPIRE.target.value,
        "finished_at": now,
        "heartbeat_at": None,
        "next_attempt_at": None,
        "lock_key": None,
        "error_message": expiry_message(now),
    }


def parent_done(row: Any) -> bool:
    """Whether a parent's count (``progress_done``, ``members``) says all its members ended."""
    return row is not None and row[1] is not None and row[0] >= row[1]


class RunLifecycle(DataStore):
    """Records runs and moves them through the state machine."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        dialect = self.engine.dialect
        self._claim_stmt = DriverStatement(_CLAIM, dialect)
        finish, finish_member = _finish_statements(dialect.name)
        self._finish_stmt = DriverStatement(finish, dialect)
        self._count_stmt = DriverStatement(_COUNT_MEMBER, dialect)
        # SQLite has no data-modifying WITH: there a member's finish and count share a transaction.
        postgres = dialect.name == "postgresql"
        self._finish_member_stmt = DriverStatement(finish_member, dialect) if postgres else None

    # -- recording ---------------------------------------------------------------------------

    def create_runs(self, new: Sequence[NewRun], conn: Connection | None = None) -> None:
        """Record runs as queued and due now (in ``conn``'s transaction when given)."""
        rows = queued_rows(new)
        if not rows:
            return
        if conn is not None:
            copy_rows(conn, runs, rows)
            return
        with self.engine.begin() as own:
            copy_rows(own, runs, rows)

    # -- claim -------------------------------------------------------------------------------

    def claim(
        self,
        run_id: str,
        *,
        stale_before: datetime,
        worker: str | None = None,
        lock_key: str | None = None,
        lock_stale_before: datetime | None = None,
    ) -> tuple[Claim, int]:
        """Make this delivery the run's live attempt; returns the outcome and the attempt number.

        One UPDATE (the claim) moves a due run to ``running`` and takes the overlap lock:
        ``lock_key`` is unique among running and waiting runs, so a second live run of the same
        collector + params fails it (``LOCKED``). A holder whose heartbeat stopped before
        ``lock_stale_before`` loses the lock to it. A run found ``running`` is taken over only when
        its attempt is provably dead (stale heartbeat, or its process gone): that attempt is closed
        as lost (back to ``queued``) and the same claim statement runs again, lock included.
        """
        worker, now = worker or worker_name(), utcnow()
        values = {"b_run_id": run_id, "b_now": now, "b_worker": worker, "b_lock_key": lock_key}
        outcome = self._claim_due(values, lock_key, lock_stale_before or stale_before)
        if outcome is not None:
            return outcome
        row = self.get_run(run_id)
        if row is None:
            return Claim.MISSING, 0
        if expired_at(row, now):
            self.expire(run_id, now, row["parent_run_id"])
            return Claim.EXPIRED, row["attempt"]
        if row["status"] != RunStatus.RUNNING or row["members"] is not None:
            return Claim.FINISHED, row["attempt"]  # ended, or a fan-out parent only gather continues
        if not self._is_lost(row["heartbeat_at"], row["worker"], stale_before):
            return Claim.BUSY, row["attempt"]
        requeue = self.lost_attempts(run_id) + 1 < MAX_LOST_ATTEMPTS
        message = (
            "worker lost (no heartbeat or process gone)"
            if requeue
            else f"worker lost {MAX_LOST_ATTEMPTS} times; not redelivered again"
        )
        closed = self.mark_lost(
            run_id, row["attempt"], requeue=requeue, message=message, heartbeat_seen=row["heartbeat_at"]
        )
        if not closed.recorded:
            return Claim.BUSY, row["attempt"]  # someone else closed or took it meanwhile
        if not requeue:
            return Claim.FINISHED, row["attempt"]
        values["b_now"] = utcnow()
        return self._claim_due(values, lock_key, lock_stale_before or stale_before) or (Claim.BUSY, row["attempt"])

    def _claim_due(
        self, values: dict[str, Any], lock_key: str | None, lock_stale_before: datetime
    ) -> tuple[Claim, int] | None:
        try:
            rows = self.write(self._claim_stmt, values)
        except IntegrityError:
            if not self._free_stale_lock(lock_key, lock_stale_before):
                return Claim.LOCKED, 0
            try:
                rows = self.write(self._claim_stmt, values)
            except IntegrityError:
                return Claim.LOCKED, 0
        return (Claim.CLAIMED, int(rows[0][0])) if rows else None

    def _free_stale_lock(self, lock_key: str | None, stale_before: datetime) -> bool:
        """Take the overlap lock away from a running holder that stopped beating (its process died).

        A waiting fan-out parent has no heartbeat and keeps its lock until its flow ends.
        """
        if lock_key is None:
            return False
        with self.single() as conn:
            freed = conn.execute(
                update(runs)
                .where(
                    runs.c.lock_key == lock_key,
                    runs.c.status == RunStatus.RUNNING.value,
                    runs.c.members.is_(None),  # a parent's gather: recovery puts it back to waiting, lock kept
                    or_(runs.c.heartbeat_at < stale_before, runs.c.heartbeat_at.is_(None)),
                )
                .values(lock_key=None)
            ).rowcount
        return bool(freed)

    @staticmethod
    def _is_lost(heartbeat_at: datetime | None, worker: str | None, stale_before: datetime) -> bool:
        return heartbeat_at is None or heartbeat_at < stale_before or pid_is_dead(worker)

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        if len(run_id) > RUN_ID_LENGTH or "\x00" in run_id:
            return None  # cannot be a run id (PostgreSQL would refuse the NUL byte with an error)
        with self._read.connect() as conn:
            row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
            return dict(row) if row else None

    def lock_holder(self, lock_key: str) -> str | None:
        """The live run that holds an overlap lock, if any."""
        query = select(runs.c.id).where(
            runs.c.lock_key == lock_key, runs.c.status.in_([RunStatus.RUNNING.value, RunStatus.WAITING.value])
        )
        with self._read.connect() as conn:
            return conn.execute(query.limit(1)).scalar_one_or_none()

    # -- overlap -----------------------------------------------------------------------------

    def skip(self, run_id: str, message: str, parent_run_id: str | None = None) -> Ended:
        """Record a run refused by overlap protection (``overlap = "skip"``): it never started.

        A fan-out member that is skipped counts into its parent in the same transaction."""
        now = utcnow()
        statement = (
            update(runs)
            .where(runs.c.id == run_id, in_status(SKIP))
            .values(
                status=SKIP.target.value,
                attempt=runs.c.attempt + 1,
                attempt_started_at=now,
                finished_at=now,
                heartbeat_at=None,
                next_attempt_at=None,
                error_message=message,
            )
            .returning(runs.c.id)
        )
        return self._end_outside(statement, parent_run_id)

    def expire(self, run_id: str, now: datetime, parent_run_id: str | None = None) -> Ended:
        """Record a due run that had not started by its expiry at ``now``: it never runs. Guarded
        (still due, never started, expired by ``now``); a member counts into its parent."""
        statement = update(runs).where(runs.c.id == run_id, *is_expired(now)).values(expired_values(now))
        statement = statement.returning(runs.c.id)
        return self._end_outside(statement, parent_run_id)

    def defer(self, run_id: str, message: str, due_at: datetime) -> bool:
        """A queued run waits for the lock holder (``overlap = "queue"``): due again at ``due_at``.
        The wait is not an attempt."""
        with self.single() as conn:
            return bool(
                conn.execute(
                    update(runs)
                    .where(runs.c.id == run_id, in_status(DEFER))
                    .values(status=DEFER.target.value, error_message=message, next_attempt_at=due_at)
                ).rowcount
            )

    def abandon(
        self, run_id: str, outcome: Outcome, parent_run_id: str | None = None, *, pending_only: bool = False
    ) -> Ended:
        """Fail a run from outside its attempt: the collector is unknown on the worker, it cannot be
        re-sent, its process was killed at the hard time limit, or the user hit Ctrl-C.
        ``pending_only``: only if no attempt took it meanwhile (recovery giving up on a due run)."""
        guard = status_in(PENDING) if pending_only else in_status(ABANDON)
        statement = (
            update(runs)
            .where(runs.c.id == run_id, guard)
            .values(
                status=ABANDON.target.value,
                finished_at=utcnow(),
                heartbeat_at=None,
                next_attempt_at=None,
                error_category=outcome.error_category,
                error_phase=outcome.error_phase,
                error_message=outcome.error_message,
                error_traceback=outcome.error_traceback,
            )
            .returning(runs.c.id)
        )
        return self._end_outside(statement, parent_run_id)

    def cancel(self, run_id: str, message: str = "cancelled by a user") -> Cancelled:
        """Cancel a run that has not ended: one that is due never starts (its claim finds it
        ended), and the attempt of one that runs can no longer finish. A fan-out parent's members
        that have not ended are cancelled with it; a member's cancel counts into its parent. The
        overlap lock goes with the status."""
        if len(run_id) > RUN_ID_LENGTH or "\x00" in run_id:
            return Cancelled(False, None)
        now = utcnow()
        ended = run_seconds(self.engine.dialect.name, literal(now, UTCDateTime()))
        values = {
            "status": CANCEL.target.value,
            "finished_at": now,
            "heartbeat_at": None,
            "next_attempt_at": None,
            "error_message": message,
            "duration": ended,
        }
        with self.engine.begin() as conn:
            row = conn.execute(
                select(runs.c.status, runs.c.parent_run_id, runs.c.members).where(runs.c.id == run_id)
            ).first()
            if row is None or row.status not in CANCEL.sources:
                return Cancelled(False, row.status if row else None)
            # compare-and-set on the status read: a run that moved meanwhile is not overwritten
            guard = and_(runs.c.id == run_id, runs.c.status == row.status)
            if conn.execute(update(runs).where(guard).values(**values).returning(runs.c.id)).first() is None:
                return Cancelled(False, row.status)
            stop = [run_id]
            if row.members is not None:
                members = update(runs).where(runs.c.parent_run_id == run_id, in_status(CANCEL)).values(**values)
                stop += [member for (member,) in conn.execute(members.returning(runs.c.id))]
            return Cancelled(True, row.status, tuple(stop), self._count(conn, row.parent_run_id))

    def _end_outside(self, statement: Update, parent_run_id: str | None) -> Ended:
        with self.engine.begin() as conn:
            if conn.execute(statement).first() is None:
                return Ended(False)
            return Ended(True, self._count(conn, parent_run_id))

    def _count(self, conn: Connection, parent_run_id: str | None) -> bool:
        """Count one more ended member into its parent; True when that completes the parent."""
        if parent_run_id is None:
            return False
        rows = self._count_stmt.execute(conn, {"b_parent": parent_run_id})
        return parent_done(rows[0]) if rows else False

    # -- finish ------------------------------------------------------------------------------

    def finish(
        self,
        run_id: str,
        attempt: int,
        outcome: Outcome,
        state: StateWrite | None = None,
        parent_run_id: str | None = None,
    ) -> Ended:
        """Record how the live attempt ended (and commit state with a success, atomically).

        Guarded: when ``attempt`` is no longer the run's live attempt (it was taken over or closed
        as lost meanwhile), nothing is written, the state neither, and ``recorded`` is False. A
        fan-out member that ends counts into its parent's progress in the same transaction.
        """
        now = utcnow()
        values: dict[str, Any] = {
            "status": outcome.status,
            "heartbeat_at": None,
            "error_category": outcome.error_category,
            "error_phase": outcome.error_phase,
            "error_message": outcome.error_message,
            "error_traceback": outcome.error_traceback,
            "records": outcome.records,
            "cpu_seconds": outcome.cpu_seconds,
            "peak_memory": outcome.peak_memory,
        }
        if outcome.status in FINISHED:
            values.update(finished_at=now, result=outcome.result)
        if outcome.status == RunStatus.RETRYING:
            return self._retrying(run_id, attempt, outcome, values, now)
        merged = {"finished_at": None, "result": None, **values, "run_id": run_id, "attempt": attempt, "ended": now}
        params = {f"b_{name}": value for name, value in merged.items()}
        counted = parent_run_id if outcome.status in FINISHED else None
        if state is None and counted is None:
            return Ended(bool(self.write(self._finish_stmt, params)))
        if state is None and self._finish_member_stmt is not None:
            rows = self.write(self._finish_member_stmt, {**params, "b_parent": counted})
            return Ended(bool(rows), parent_done(rows[0]) if rows else False)
        with self.engine.begin() as conn:
            if not self._finish_stmt.execute(conn, params):
                return Ended(False)  # nothing written: the transaction ends without a change
            if state is not None:
                self._write_state(conn, state, run_id, now)
            return Ended(True, self._count(conn, counted))

    def _retrying(self, run_id: str, attempt: int, outcome: Outcome, values: dict[str, Any], now: datetime) -> Ended:
        due = now + timedelta(seconds=outcome.retry_in or 0)
        with self.engine.begin() as conn:
            row = (
                conn.execute(
                    update(runs)
                    .where(runs.c.id == run_id, runs.c.attempt == attempt, in_status(by_outcome("retrying")))
                    .values(
                        {
                            **values,
                            "next_attempt_at": due,
                            "duration": run_seconds(self.engine.dialect.name, literal(now, UTCDateTime())),
                        }
                    )
                    .returning(runs.c.id, runs.c.attempt, runs.c.attempt_started_at, runs.c.worker)
                )
                .mappings()
                .first()
            )
            if row is None:
                return Ended(False)
            self._record_attempt(
                conn,
                row,
                "retrying",
                now,
                outcome.error_message,
                outcome.error_category,
                outcome.retry_in,
                outcome.error_traceback,
                usage=outcome,
            )
        return Ended(True)

    # -- lost attempts -----------------------------------------------------------------------

    def mark_lost(
        self,
        run_id: str,
        attempt: int,
        *,
        requeue: bool,
        message: str,
        heartbeat_seen: datetime | _Unchecked | None = UNCHECKED,
    ) -> Ended:
        """Close a lost attempt: back to ``queued`` (due now) for redelivery, or ``failed``.

        Guarded on the attempt, and on the heartbeat the caller saw when it judged the attempt lost
        (``heartbeat_seen``): ``recorded`` is False when it moved on or beat
        meanwhile. A member that fails this way counts into its parent."""
        now = utcnow()
        transition = REQUEUE_LOST if requeue else FAIL_LOST
        values: dict[str, Any] = {"status": transition.target.value, "heartbeat_at": None}
        if requeue:
            values.update(next_attempt_at=now)
        else:
            values.update(finished_at=now, error_category="unknown", error_phase="collect", error_message=message)
        statement = (
            update(runs)
            .where(
                runs.c.id == run_id,
                runs.c.attempt == attempt,
                in_status(transition),
                runs.c.members.is_(None),
                *_heartbeat_is(heartbeat_seen),
            )
            .values(**values)
        )
        with self.engine.begin() as conn:
            row = self._close_attempt(conn, statement, "lost", message)
            if row is None:
                return Ended(False)
            return Ended(True, False if requeue else self._count(conn, row["parent_run_id"]))

    def _close_attempt(self, conn: Connection, statement: Update, status: str, message: str) -> RowMapping | None:
        """Run a guarded transition that ends an attempt without ending its run, and keep that
        attempt in ``run_attempts``; the run's row (id, attempt, ...) or None when it moved on."""
        row = (
            conn.execute(
                statement.returning(
                    runs.c.id, runs.c.attempt, runs.c.attempt_started_at, runs.c.worker, runs.c.parent_run_id
                )
            )
            .mappings()
            .first()
        )
        if row is not None:
            self._record_attempt(conn, row, status, utcnow(), message)
        return row

    @staticmethod
    def _record_attempt(
        conn: Connection,
        run: Any,
        status: str,
        now: datetime,
        message: str | None,
        category: str | None = None,
        retry_in: float | None = None,
        error_traceback: str | None = None,
        usage: Outcome | None = None,
    ) -> None:
        """Keep an attempt that ended without ending its run (described by the run row until now);
        ``usage``: what it emitted and cost, when known (a lost attempt's is not)."""
        conn.execute(
            run_attempts.insert().values(
                run_id=run["id"],
                attempt=run["attempt"],
                status=status,
                started_at=run["attempt_started_at"] or now,
                finished_at=now,
                worker=run["worker"],
                error_category=category,
                error_message=message,
                error_traceback=error_traceback,
                retry_in=retry_in,
                records=usage.records if usage else None,
                cpu_seconds=usage.cpu_seconds if usage else None,
                peak_memory=usage.peak_memory if usage else None,
            )
        )

    def lost_attempts(self, run_id: str) -> int:
        """Attempts of this run whose worker died (not counting a running one)."""
        query = select(func.count()).where(run_attempts.c.run_id == run_id, run_attempts.c.status == "lost")
        with self._read.connect() as conn:
            return int(conn.execute(query).scalar_one())

    # -- liveness ----------------------------------------------------------------------------

    def heartbeat(self, run_ids: Iterable[str], held: Iterable[str] = ()) -> None:
        """Stamp the running runs of this process; keep the runs it ``held`` (a batch's next ones)
        from looking overdue to the sweeper."""
        ids, pending = list(run_ids), list(held)
        if not ids and not pending:
            return
        now = utcnow()
        with self.single() as conn:
            if ids:
                conn.execute(
                    update(runs)
                    .where(runs.c.id.in_(ids), runs.c.status == RunStatus.RUNNING.value)
                    .values(heartbeat_at=now)
                )
            if pending:
                conn.execute(
                    update(runs)
                    .where(runs.c.id.in_(pending), runs.c.status.in_([s.value for s in PENDING]))
                    .values(next_attempt_at=now)
                )

    def set_progress(self, run_id: str, done: int, total: int | None) -> None:
        with self.single() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(progress_done=done, progress_total=total))
