"""Store: every read and write of the run history, state and records (SQLAlchemy Core, no ORM)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, Update, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from harvester.history.data import DataStore, StateWrite
from harvester.history.engine import DriverStatement, aware, utcnow
from harvester.history.models import run_attempts, runs

FINISHED = ("succeeded", "failed", "skipped")
WAITING = ("queued", "retrying")
#: A run whose worker died this many times fails instead of being redelivered again
#: (a collector that kills its worker, e.g. by running out of memory, must not loop forever).
MAX_LOST_ATTEMPTS = 3


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_is_dead(worker: str | None) -> bool:
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


class Claim(StrEnum):
    """Outcome of :meth:`Store.claim` for one delivery of a run's message."""

    CLAIMED = "claimed"  # this delivery runs it
    LOCKED = "locked"  # another live run of the same collector + params holds the overlap lock
    FINISHED = "finished"  # a duplicate delivery of a finished run: drop it
    BUSY = "busy"  # another live attempt runs it: look again later
    MISSING = "missing"  # no such run (history pruned or wrong database)


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


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended, as the store records it."""

    status: str  # succeeded | failed | retrying
    result: Any = None
    records: int = 0
    duration: float | None = None
    error_category: str | None = None
    error_phase: str | None = None
    error_message: str | None = None
    retry_in: float | None = None


# The two statements of every run, built once: building a statement costs as much as running it.
_CLAIM_WAITING = (
    update(runs)
    .where(runs.c.id == bindparam("b_run_id"), or_(runs.c.status == WAITING[0], runs.c.status == WAITING[1]))
    .values(
        status="running",
        attempt=runs.c.attempt + 1,
        started_at=func.coalesce(runs.c.started_at, bindparam("b_now")),
        attempt_started_at=bindparam("b_now"),
        finished_at=None,
        heartbeat_at=bindparam("b_now"),
        worker=bindparam("b_worker"),
        lock_key=bindparam("b_lock_key"),
        error_category=None,
        error_phase=None,
        error_message=None,
    )
    .returning(runs.c.attempt)
)
_FINISH_COLUMNS = (
    "status",
    "heartbeat_at",
    "error_category",
    "error_phase",
    "error_message",
    "records",
    "duration",
    "finished_at",
    "result",
)
_FINISH = (
    update(runs)
    .where(runs.c.id == bindparam("b_run_id"), runs.c.attempt == bindparam("b_attempt"))
    .values({name: bindparam(f"b_{name}") for name in _FINISH_COLUMNS})
)


def run_filters(
    *,
    collector: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    parent_run_id: str | None = None,
) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a run listing (CLI, API and dashboard filter alike)."""
    conditions: list[ColumnElement[bool]] = []
    if collector:
        conditions.append(runs.c.collector == collector)
    if status:
        conditions.append(runs.c.status == status)
    if since:
        conditions.append(runs.c.queued_at >= since)
    if parent_run_id:
        conditions.append(runs.c.parent_run_id == parent_run_id)
    return conditions


def _queued_rows(new: Sequence[NewRun]) -> list[dict[str, Any]]:
    """``runs`` rows of newly recorded runs, all queued at the same moment."""
    now = utcnow()
    return [
        {
            "id": r.run_id,
            "collector": r.collector,
            "params": r.params,
            "params_key": r.params_key,
            "trigger": r.trigger,
            "status": "queued",
            "attempt": 0,
            "queued_at": now,
            "records": 0,
            "parent_run_id": r.parent_run_id,
            "task_id": r.task_id,
            "member_index": r.member_index,
        }
        for r in new
    ]


_COUNT_MEMBER = update(runs).where(runs.c.id == bindparam("b_parent")).values(progress_done=runs.c.progress_done + 1)
#: A fan-out member's finish and its parent's count as one statement (PostgreSQL: a data-modifying
#: WITH runs to completion whether or not it is referenced), so it needs no transaction of its own.
_FINISH_MEMBER = _COUNT_MEMBER.add_cte(_FINISH.cte("finished"))


class Store(DataStore):
    """The history database. Safe to share between threads; call :meth:`after_fork` in a child process.

    A run's row describes its current (or last) attempt; ``run_attempts`` keeps the attempts that
    ended without ending the run (retried or lost). So the common path of a run costs two
    single-statement round trips: the claim and the finish.
    """

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._claim_stmt = DriverStatement(_CLAIM_WAITING, self.engine.dialect)
        self._finish_stmt = DriverStatement(_FINISH, self.engine.dialect)
        self._count_stmt = DriverStatement(_COUNT_MEMBER, self.engine.dialect)
        # SQLite has no data-modifying WITH: there a member's finish and count share a transaction.
        postgres = self.engine.dialect.name == "postgresql"
        self._finish_member_stmt = DriverStatement(_FINISH_MEMBER, self.engine.dialect) if postgres else None

    # -- runs ------------------------------------------------------------------------------

    def create_runs(self, new: Sequence[NewRun]) -> None:
        rows = _queued_rows(new)
        if rows:
            with self.engine.begin() as conn:
                conn.execute(runs.insert(), rows)

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

        The common case (a queued or retrying run) is one UPDATE, which also takes the overlap
        lock: ``lock_key`` is unique among running runs, so a second live run of the same
        collector + params fails that UPDATE (``LOCKED``). A holder whose heartbeat stopped before
        ``lock_stale_before`` loses the lock to it. A run marked running is taken over only when
        its attempt is provably dead (stale heartbeat, or its process is gone).
        """
        worker = worker or worker_name()
        now = utcnow()
        values = {"b_run_id": run_id, "b_now": now, "b_worker": worker, "b_lock_key": lock_key}
        try:
            fresh = self._claim_waiting(values)
        except IntegrityError:
            if not self._free_stale_lock(lock_key, lock_stale_before or stale_before):
                return Claim.LOCKED, 0
            try:
                fresh = self._claim_waiting(values)
            except IntegrityError:
                return Claim.LOCKED, 0
        if fresh is not None:
            return Claim.CLAIMED, fresh
        with self.engine.begin() as conn:
            return self._claim_running(conn, run_id, stale_before, worker, now)

    def _claim_waiting(self, values: dict[str, Any]) -> int | None:
        rows = self.write(self._claim_stmt, values)
        return int(rows[0][0]) if rows else None

    def _free_stale_lock(self, lock_key: str | None, stale_before: datetime) -> bool:
        """Take the overlap lock away from a holder that stopped beating (its process died)."""
        if lock_key is None:
            return False
        with self.single() as conn:
            freed = conn.execute(
                update(runs)
                .where(
                    runs.c.lock_key == lock_key,
                    runs.c.status == "running",
                    # a fan-out parent waiting for its members has no heartbeat, and keeps its lock
                    or_(
                        runs.c.heartbeat_at < stale_before,
                        and_(runs.c.heartbeat_at.is_(None), runs.c.members.is_(None)),
                    ),
                )
                .values(lock_key=None)
            ).rowcount
        return bool(freed)

    def lock_holder(self, lock_key: str) -> str | None:
        """The running run that holds an overlap lock, if any."""
        query = select(runs.c.id).where(runs.c.lock_key == lock_key, runs.c.status == "running").limit(1)
        with self._read.connect() as conn:
            return conn.execute(query).scalar_one_or_none()

    def skip(self, run_id: str, message: str) -> None:
        """Record a run refused by overlap protection (``overlap = "skip"``): it never started."""
        now = utcnow()
        with self.single() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.status.in_(WAITING))
                .values(
                    status="skipped",
                    attempt=runs.c.attempt + 1,
                    attempt_started_at=now,
                    finished_at=now,
                    heartbeat_at=None,
                    error_message=message,
                )
            )

    def note_waiting(self, run_id: str, message: str) -> None:
        """Say why a queued run waits (``overlap = "queue"``); the wait is not an attempt."""
        with self.single() as conn:
            conn.execute(
                update(runs).where(runs.c.id == run_id, runs.c.status.in_(WAITING)).values(error_message=message)
            )

    def _claim_running(
        self, conn: Connection, run_id: str, stale_before: datetime, worker: str, now: datetime
    ) -> tuple[Claim, int]:
        row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
        if row is None:
            return Claim.MISSING, 0
        if row["status"] != "running" or row["members"] is not None:
            # A fan-out parent that handed out its members never starts over: only gather continues it.
            return Claim.FINISHED, row["attempt"]
        if not self._is_lost(row["heartbeat_at"], row["worker"], stale_before):
            return Claim.BUSY, row["attempt"]
        if self._lost_attempts(conn, run_id) + 1 >= MAX_LOST_ATTEMPTS:
            self._close_lost(conn, row, now, f"worker lost {MAX_LOST_ATTEMPTS} times; not redelivered again")
            return Claim.FINISHED, row["attempt"]
        taken = conn.execute(
            self._start(run_id, now, worker)
            .where(runs.c.status == "running", runs.c.attempt == row["attempt"])
            .returning(runs.c.attempt)
        ).first()
        if taken is None:
            return Claim.BUSY, row["attempt"]
        self._record_attempt(conn, row, "lost", now, "worker lost (no heartbeat or process gone)")
        return Claim.CLAIMED, taken.attempt

    @staticmethod
    def _start(run_id: str, now: datetime, worker: str) -> Update:
        return (
            update(runs)
            .where(runs.c.id == run_id)
            .values(
                status="running",
                attempt=runs.c.attempt + 1,
                started_at=func.coalesce(runs.c.started_at, now),
                attempt_started_at=now,
                finished_at=None,
                heartbeat_at=now,
                worker=worker,
                error_category=None,
                error_phase=None,
                error_message=None,
            )
        )

    @staticmethod
    def _record_attempt(
        conn: Connection,
        run: RowMapping,
        status: str,
        now: datetime,
        message: str | None,
        category: str | None = None,
        retry_in: float | None = None,
    ) -> None:
        """Keep an attempt that ended without ending its run (described by the run row until now)."""
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
                retry_in=retry_in,
            )
        )

    @staticmethod
    def _lost_attempts(conn: Connection, run_id: str) -> int:
        query = select(func.count()).where(run_attempts.c.run_id == run_id, run_attempts.c.status == "lost")
        return int(conn.execute(query).scalar_one())

    def lost_attempts(self, run_id: str) -> int:
        """Attempts of this run whose worker died (not counting a running one)."""
        with self._read.connect() as conn:
            return self._lost_attempts(conn, run_id)

    def _close_lost(self, conn: Connection, run: RowMapping, now: datetime, message: str) -> None:
        self._record_attempt(conn, run, "lost", now, message)
        conn.execute(
            update(runs)
            .where(runs.c.id == run["id"])
            .values(
                status="failed",
                finished_at=now,
                heartbeat_at=None,
                error_category="unknown",
                error_phase="collect",
                error_message=message,
            )
        )

    @staticmethod
    def _is_lost(heartbeat_at: datetime | None, worker: str | None, stale_before: datetime) -> bool:
        return heartbeat_at is None or heartbeat_at < stale_before or _pid_is_dead(worker)

    def finish(
        self,
        run_id: str,
        attempt: int,
        outcome: Outcome,
        state: StateWrite | None = None,
        parent_run_id: str | None = None,
    ) -> None:
        """Record how an attempt ended (and commit state with a success, atomically).

        A fan-out member that ends counts into its parent's progress in the same transaction.
        """
        now = utcnow()
        values: dict[str, Any] = {
            "status": outcome.status,
            "heartbeat_at": None,
            "error_category": outcome.error_category,
            "error_phase": outcome.error_phase,
            "error_message": outcome.error_message,
            "records": outcome.records,
            "duration": outcome.duration,
        }
        if outcome.status in FINISHED:
            values.update(finished_at=now, result=outcome.result)
        if outcome.status == "retrying":
            self._retrying(run_id, attempt, outcome, values, now)
            return
        merged = {"finished_at": None, "result": None, **values, "run_id": run_id, "attempt": attempt}
        params = {f"b_{name}": value for name, value in merged.items()}
        counted = parent_run_id if outcome.status in FINISHED else None
        if state is None and counted is None:
            self.write(self._finish_stmt, params)
            return
        if state is None and self._finish_member_stmt is not None:
            self.write(self._finish_member_stmt, {**params, "b_parent": counted})
            return
        with self.engine.begin() as conn:
            if state is not None:
                self._write_state(conn, state, run_id, now)
            self._finish_stmt.execute(conn, params)
            if counted is not None:
                self._count_stmt.execute(conn, {"b_parent": counted})

    def _retrying(self, run_id: str, attempt: int, outcome: Outcome, values: dict[str, Any], now: datetime) -> None:
        with self.engine.begin() as conn:
            run = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
            if run is None:
                return
            self._record_attempt(
                conn, run, "retrying", now, outcome.error_message, outcome.error_category, outcome.retry_in
            )
            conn.execute(update(runs).where(runs.c.id == run_id, runs.c.attempt == attempt).values(**values))

    def abandon(self, run_id: str, outcome: Outcome) -> None:
        """Fail a run from outside its attempt: the collector is unknown on the worker, or the user hit Ctrl-C."""
        with self.single() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.status.not_in(FINISHED))
                .values(
                    status=outcome.status,
                    finished_at=utcnow(),
                    heartbeat_at=None,
                    error_category=outcome.error_category,
                    error_phase=outcome.error_phase,
                    error_message=outcome.error_message,
                )
            )

    def heartbeat(self, run_ids: Iterable[str]) -> None:
        ids = list(run_ids)
        if ids:
            with self.single() as conn:
                conn.execute(
                    update(runs)
                    # a NULL heartbeat is a fan-out parent waiting for its members: nobody holds it
                    .where(runs.c.id.in_(ids), runs.c.status == "running", runs.c.heartbeat_at.is_not(None))
                    .values(heartbeat_at=utcnow())
                )

    def set_progress(self, run_id: str, done: int, total: int | None) -> None:
        with self.single() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(progress_done=done, progress_total=total))

    def lost_runs(self, stale_before: datetime) -> list[dict[str, Any]]:
        """Runs marked running whose heartbeat stopped before ``stale_before``."""
        with self._read.connect() as conn:
            rows = conn.execute(
                select(runs).where(runs.c.status == "running", runs.c.heartbeat_at < stale_before)
            ).mappings()
            return [dict(r) for r in rows]

    def mark_lost(self, run_id: str, attempt: int, *, requeue: bool, message: str) -> bool:
        """Close a lost attempt: back to ``queued`` for redelivery, or ``failed``. False if it moved on."""
        now = utcnow()
        with self.engine.begin() as conn:
            run = (
                conn.execute(
                    select(runs).where(runs.c.id == run_id, runs.c.status == "running", runs.c.attempt == attempt)
                )
                .mappings()
                .first()
            )
            if run is None:
                return False
            if not requeue:
                self._close_lost(conn, run, now, message)
                return True
            self._record_attempt(conn, run, "lost", now, message)
            conn.execute(update(runs).where(runs.c.id == run_id).values(status="queued", heartbeat_at=None))
        return True

    # -- fan-out ---------------------------------------------------------------------------
    # A parent that handed out its members stays ``running`` with ``members`` set and no heartbeat
    # (no process holds it) until one gather claims it: the chord's callback, or the reaper's
    # backstop when the chord cannot fire (a member closed outside its task).

    def fan_out(self, parent_run_id: str, attempt: int, members: Sequence[NewRun]) -> bool:
        """Record the members as queued and the parent as waiting for them, in one transaction.

        ``members`` carry their ``parent_run_id`` (this parent) and ``member_index``.
        """
        rows = _queued_rows(members)
        with self.engine.begin() as conn:
            waiting = conn.execute(
                update(runs)
                .where(runs.c.id == parent_run_id, runs.c.attempt == attempt, runs.c.status == "running")
                .values(members=len(rows), heartbeat_at=None, progress_done=0, progress_total=len(rows))
            ).rowcount
            if waiting and rows:
                conn.execute(runs.insert(), rows)
        return bool(waiting)

    def claim_gather(self, parent_run_id: str, worker: str | None = None) -> tuple[int, datetime | None] | None:
        """Make this process the one that gathers a waiting parent: its attempt and first start,
        or None if another process has it or it is done."""
        with self.single() as conn:
            row = conn.execute(
                update(runs)
                .where(
                    runs.c.id == parent_run_id,
                    runs.c.status == "running",
                    runs.c.members.is_not(None),
                    runs.c.heartbeat_at.is_(None),
                )
                .values(heartbeat_at=utcnow(), worker=worker or worker_name())
                .returning(runs.c.attempt, runs.c.started_at)
            ).first()
        return None if row is None else (int(row.attempt), row.started_at)

    def release_gather(self, parent_run_id: str, stale_before: datetime) -> bool:
        """Put a parent whose gathering process died back to waiting (so a new gather can claim it)."""
        with self.single() as conn:
            return bool(
                conn.execute(
                    update(runs)
                    .where(
                        runs.c.id == parent_run_id,
                        runs.c.status == "running",
                        runs.c.members.is_not(None),
                        runs.c.heartbeat_at < stale_before,
                    )
                    .values(heartbeat_at=None)
                ).rowcount
            )

    def members(self, parent_run_id: str) -> list[dict[str, Any]]:
        """A parent's member runs, in the order its ``subcollectors()`` gave them."""
        query = select(runs).where(runs.c.parent_run_id == parent_run_id).order_by(runs.c.member_index, runs.c.id)
        with self._read.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def member_finished(self, parent_run_id: str) -> None:
        """Count one more finished member into its parent's progress (finished members / members),
        for a member that ended without :meth:`finish` (skipped, refused). An increment, not a count
        of the siblings: a fan-out of N members must not cost N² reads."""
        with self.single() as conn:
            self._count_stmt.execute(conn, {"b_parent": parent_run_id})

    def stalled_fanouts(self, finished_before: datetime) -> list[dict[str, Any]]:
        """Waiting parents whose members all finished before ``finished_before``: their gather never came."""
        child = runs.alias("child")
        unfinished = select(child.c.id).where(
            child.c.parent_run_id == runs.c.id,
            or_(child.c.status.not_in(FINISHED), child.c.finished_at >= finished_before),
        )
        query = select(runs).where(
            runs.c.status == "running",
            runs.c.members.is_not(None),
            runs.c.heartbeat_at.is_(None),
            ~unfinished.exists(),
        )
        with self._read.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    # -- reads -----------------------------------------------------------------------------

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        with self._read.connect() as conn:
            row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
            return dict(row) if row else None

    def list_runs(
        self,
        *,
        collector: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        parent_run_id: str | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Runs, newest first."""
        conditions = run_filters(collector=collector, status=status, since=since, parent_run_id=parent_run_id)
        query = select(runs).where(*conditions).order_by(runs.c.queued_at.desc(), runs.c.id.desc()).limit(limit)
        with self._read.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def attempts(self, run_id: str) -> list[dict[str, Any]]:
        """Every attempt of a run: the closed ones (retried, lost) and the current or last one."""
        with self._read.connect() as conn:
            query = select(run_attempts).where(run_attempts.c.run_id == run_id).order_by(run_attempts.c.attempt)
            closed = [dict(r) for r in conn.execute(query).mappings()]
            run = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
        if run is None or run["attempt"] == 0 or run["status"] in WAITING:
            return closed
        if closed and closed[-1]["attempt"] >= run["attempt"]:
            return closed
        current = {
            "run_id": run_id,
            "attempt": run["attempt"],
            "status": run["status"],
            "started_at": run["attempt_started_at"],
            "finished_at": run["finished_at"],
            "worker": run["worker"],
            "error_category": run["error_category"],
            "error_message": run["error_message"],
            "retry_in": None,
        }
        return [*closed, current]

    def last_runs(self) -> dict[str, dict[str, Any]]:
        """The newest run of each collector."""
        newest = (
            select(runs.c.collector, func.max(runs.c.queued_at).label("queued_at")).group_by(runs.c.collector)
        ).subquery()
        query = select(runs).join(
            newest, and_(runs.c.collector == newest.c.collector, runs.c.queued_at == newest.c.queued_at)
        )
        with self._read.connect() as conn:
            return {r["collector"]: dict(r) for r in conn.execute(query).mappings()}

    def last_successes(self) -> dict[tuple[str, str], datetime]:
        """When each (collector, params key) last succeeded: the input of freshness."""
        query = (
            select(runs.c.collector, runs.c.params_key, func.max(runs.c.finished_at))
            .where(runs.c.status == "succeeded")
            .group_by(runs.c.collector, runs.c.params_key)
        )
        with self._read.connect() as conn:
            return {(c, k): aware(t) for c, k, t in conn.execute(query) if t is not None}

    def prune(self, older_than: datetime) -> int:
        """Delete finished runs queued before ``older_than``; returns how many went."""
        with self.engine.begin() as conn:
            old = select(runs.c.id).where(runs.c.queued_at < older_than, runs.c.status.in_(FINISHED))
            conn.execute(delete(run_attempts).where(run_attempts.c.run_id.in_(old)))
            return conn.execute(delete(runs).where(runs.c.queued_at < older_than, runs.c.status.in_(FINISHED))).rowcount
