"""Many runs recorded at once (a fan-out's members, a tick's scheduled runs): by COPY on PostgreSQL,
all or nothing with the transition they belong to."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy.exc import DBAPIError

from harvester.history.bulk import COPY_FROM
from harvester.history.engine import utcnow
from harvester.history.lifecycle import NewRun
from harvester.history.states import RunStatus


def _parent(store) -> str:
    run_id = str(uuid.uuid4())
    store.create_runs([NewRun(run_id, "fan", {}, "k", "cli")])
    store.claim(run_id, stale_before=utcnow() - timedelta(minutes=1))
    return run_id


def _members(parent: str, n: int) -> list[NewRun]:
    return [
        NewRun(
            str(uuid.uuid4()), "member", {"i": i, "text": f"odd \t \\ , {i}"}, f"m{i}", "parent", parent, member_index=i
        )
        for i in range(n)
    ]


def test_a_large_fan_out_records_every_member_with_its_params(store):
    parent = _parent(store)
    members = _members(parent, COPY_FROM * 3)
    assert store.fan_out(parent, 1, members)
    got = store.members(parent)
    assert [m["id"] for m in got] == [m.run_id for m in members]
    assert [m["params"] for m in got] == [m.params for m in members]
    assert {m["status"] for m in got} == {RunStatus.QUEUED.value}
    assert all(m["next_attempt_at"] is not None and m["force"] is False for m in got)
    parent_row = store.get_run(parent)
    assert (parent_row["status"], parent_row["members"]) == (RunStatus.WAITING.value, len(members))


def test_members_the_database_refuses_leave_the_parent_running(store):
    parent = _parent(store)
    members = _members(parent, COPY_FROM * 2)
    members.append(members[0])  # the same run id twice: the whole insert is refused
    with pytest.raises(DBAPIError):
        store.fan_out(parent, 1, members)
    assert store.members(parent) == []
    assert store.get_run(parent)["status"] == RunStatus.RUNNING.value


def test_many_runs_recorded_at_once_are_all_due(store):
    new = [NewRun(str(uuid.uuid4()), "c", {"n": i}, f"k{i}", "schedule") for i in range(COPY_FROM + 1)]
    store.create_runs(new)
    assert {r["id"] for r in store.list_runs(limit=1000)} == {r.run_id for r in new}
