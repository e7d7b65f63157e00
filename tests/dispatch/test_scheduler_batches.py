"""Beat's dispatch stamps each run with its schedule entry, group and group batch (time passed in):
an entry's freshness comes from its own runs, and each group's last batch is what one tick sent."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from harvester import Harvester, Settings
from harvester.dispatch.scheduler import ScheduleDispatcher
from harvester.history.models import runs
from harvester.request import RunRequest
from harvester.schedule.freshness import entry_key

T0 = datetime(2026, 5, 14, 23, 0, tzinfo=UTC)
TWO_GROUPS = """
groups:
  github:
    default_time: "00:05"
    tasks:
      - {collector: ok, schedule: daily, params: {value: 1}}
      - {collector: ok, schedule: daily, params: {value: 2}}
  mirror:
    default_time: "06:00"
    tasks:
      - {collector: ok, schedule: daily, params: {value: 1}}
"""


@pytest.fixture
def hv(tmp_path):
    path = tmp_path / "schedule.yaml"
    path.write_text(textwrap.dedent(TWO_GROUPS))
    made = Harvester(Settings(data_dir=tmp_path / "data", collectors=["sample_collectors"], schedule_file=path))
    made.store.upgrade()
    yield made
    made.close()


def beat(hv):
    sent: list[list[RunRequest]] = []
    running = ScheduleDispatcher(
        hv.registry, hv.store, hv.settings.schedule_file, strict=True, submit=lambda rs: sent.append(list(rs))
    )
    return running, sent


def finish(hv, run_ids, status="succeeded", at=None):
    with hv.store.engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id.in_(run_ids)).values(status=status, finished_at=at))


def test_each_run_carries_its_entry_group_and_the_batch_of_its_tick(hv):
    running, sent = beat(hv)
    running.tick(T0)
    running.tick(T0 + timedelta(hours=1, minutes=10))  # 00:10: github's two entries
    [batch] = sent
    entries = running.schedule.entries
    assert [r.entry_key for r in batch] == [entry_key(entries[0], hv.registry), entry_key(entries[1], hv.registry)]
    assert {r.schedule_group for r in batch} == {"github"}
    assert len({r.batch_id for r in batch}) == 1
    assert [o["entry_key"] for o in hv.store.occurrences()] == [r.entry_key for r in batch]  # one key for both
    row = hv.store.get_run(batch[0].run_id)
    assert (row["entry_key"], row["schedule_group"], row["batch_id"]) == (
        batch[0].entry_key,
        "github",
        batch[0].batch_id,
    )
    # the message carries everything but the expiry, which stays on the run row (the claim checks it)
    assert RunRequest.from_message(batch[0].to_message()) == replace(batch[0], expires=None)
    assert row["expires_at"] == row["queued_at"] + timedelta(seconds=batch[0].expires or 0)
    running.tick(T0 + timedelta(days=1, hours=1, minutes=10))  # the next day: a new batch
    assert sent[-1][0].batch_id > batch[0].batch_id


def test_an_entry_whose_group_never_ran_is_not_fresh_from_another_groups_runs(hv):
    running, sent = beat(hv)
    running.tick(T0)
    running.tick(T0 + timedelta(hours=1, minutes=10))
    done = T0 + timedelta(hours=1, minutes=11)
    finish(hv, [r.run_id for r in sent[0]], at=done)
    overview = hv.schedule_overview(done + timedelta(minutes=1))
    assert [(e.group, e.entry.params["value"], e.status) for e in overview.entries] == [
        ("github", 1, "fresh"),
        ("github", 2, "fresh"),
        ("mirror", 1, "never run"),  # same collector and params, other group: it did not run
    ]
    github, mirror = overview.groups
    assert (github.name, mirror.name, mirror.last_batch) == ("github", "mirror", None)
    assert github.last_batch is not None
    assert (github.last_batch.succeeded, github.last_batch.failed, github.last_batch.ended_at) == (2, 0, done)
    assert overview.entries[0].group_last_batch == github.last_batch


def test_a_groups_last_batch_is_its_newest_tick_with_its_runs_so_far(hv):
    running, sent = beat(hv)
    running.tick(T0)
    running.tick(T0 + timedelta(hours=1, minutes=10))
    finish(hv, [r.run_id for r in sent[0]], status="failed", at=T0 + timedelta(hours=2))
    running.tick(T0 + timedelta(days=1, hours=1, minutes=10))
    first, second = sent[1]
    finish(hv, [first.run_id], at=T0 + timedelta(days=1, hours=2))
    github = hv.schedule_overview(T0 + timedelta(days=1, hours=3)).groups[0]
    assert github.last_batch is not None
    assert github.last_batch.batch_id == first.batch_id
    assert (github.last_batch.outcome, github.last_batch.succeeded, github.last_batch.unfinished) == ("running", 1, 1)
    assert github.last_batch.ended_at is None
    assert hv.store.get_run(second.run_id)["status"] == "queued"
