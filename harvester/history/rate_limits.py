"""Rate limit buckets in the history database: one row per limit, and what a run waits for.

The backend when the broker is not Redis. A take is one short transaction that locks the limit's
row (``SELECT ... FOR UPDATE`` on PostgreSQL, the database's write lock taken by ``BEGIN IMMEDIATE``
on SQLite), runs :func:`harvester.ratelimit.bucket.take` and writes the new level; whoever must
wait sleeps after the transaction ended. PostgreSQL's clock times the buckets, so hosts whose
clocks disagree still share one; on SQLite every taker is on this machine, and its clock does.
"""

from __future__ import annotations

import time

from sqlalchemy import Connection, Float, cast, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from harvester.history.engine import READ_ONLY, Database
from harvester.history.models import rate_limits, runs
from harvester.history.states import RunStatus
from harvester.ratelimit.bucket import BucketState, Rate, take
from harvester.ratelimit.limiter import LimitStats


class DatabaseBucket:
    """Named token buckets shared by every process that uses this database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._postgres = db.engine.dialect.name == "postgresql"

    def take(self, name: str, rate: Rate, tokens: int) -> float:
        with self.db.engine.begin() as conn:
            state = self._locked_state(conn, name, rate)
            answer = take(state, self._now(conn), rate, tokens)  # the time once the row is ours
            if not answer.granted:
                return answer.wait
            conn.execute(
                update(rate_limits)
                .where(rate_limits.c.name == name)
                .values(
                    rate=str(rate),
                    level=answer.state.level,
                    level_at=answer.state.at,
                    tokens=rate_limits.c.tokens + tokens,
                )
            )
        return 0.0

    def record_wait(self, name: str, seconds: float) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(
                update(rate_limits)
                .where(rate_limits.c.name == name)
                .values(waits=rate_limits.c.waits + 1, wait_seconds=rate_limits.c.wait_seconds + seconds)
            )

    def stats(self) -> list[LimitStats]:
        query = select(rate_limits).order_by(rate_limits.c.name)
        with self.db.engine.execution_options(**{READ_ONLY: True}).connect() as conn:
            return [
                LimitStats(r["name"], r["rate"], int(r["tokens"]), int(r["waits"]), float(r["wait_seconds"]))
                for r in conn.execute(query).mappings()
            ]

    def _now(self, conn: Connection) -> float:
        if self._postgres:
            return float(conn.execute(select(cast(func.extract("epoch", func.clock_timestamp()), Float))).scalar_one())
        return time.time()

    def _locked_state(self, conn: Connection, name: str, rate: Rate) -> BucketState:
        """The limit's row, locked until the transaction ends; made full the first time it is used
        (full since the epoch: a refill from then fills it whatever the clock)."""
        query = select(rate_limits.c.level, rate_limits.c.level_at).where(rate_limits.c.name == name)
        if self._postgres:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is not None:
            return BucketState(row.level, row.level_at)
        full = {"name": name, "rate": str(rate), "level": float(rate.burst), "level_at": 0.0}
        dialect_insert = postgresql.insert if self._postgres else sqlite.insert
        insert = dialect_insert(rate_limits).values(**full, tokens=0, waits=0, wait_seconds=0.0)
        conn.execute(insert.on_conflict_do_nothing(index_elements=["name"]))
        row = conn.execute(query).one()
        return BucketState(row.level, row.level_at)


def set_waiting_for(db: Database, run_id: str, waiting_for: str | None) -> None:
    """Record what a running run waits for now, or None once it no longer waits (whatever its status
    then: a run cancelled while it waited ends without it). Each claim clears it too (a process killed
    while it waited never said None)."""
    query = update(runs).where(runs.c.id == run_id)
    if waiting_for is not None:
        query = query.where(runs.c.status == RunStatus.RUNNING.value)
    with db.single() as conn:
        conn.execute(query.values(waiting_for=waiting_for))
