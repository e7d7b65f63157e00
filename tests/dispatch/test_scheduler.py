"""ScheduleDispatcher.tick(now): each occurrence once, across schedulers and downtime (time passed in)."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import OperationalError

from harvester import Harvester, Settings
from harvester.dispatch.scheduler import ScheduleDispatcher
from harvester.errors import ConfigError

T0 = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
SCHEDULE = """
groups:
  fast:
    tasks:
      - collector: ok
        schedule: every 10s
        params: {value: 1}
      - collector: ok
        schedule: every 10s
        params: {value: 2}
      - collector: ok
        schedule: every 10s
        enabled: false
        params: {value: 3}
      - collector: ok
        schedule: every 10s
        when: predicates:never
        params: {value: 4}
  daily:
    tasks:
      - collector: ok
        schedule: daily
        at: "03:00"
        params: {value: 5}
"""


@pytest.fixture
def hv(tmp_path):
    made = Harvester(Settings(data_dir=tmp_path / "data", collectors=["sample_collectors"]))
    made.store.upgrade()
    yield made
    made.close()


class Recorder:
    """Stands in for publishing: what would have been sent, batch by batch."""

    def __init__(self, hv: Harvester) -> None:
        self.hv = hv
        self.batches: list[list[tuple[str, int]]] = []

    def __call__(self, requests):
        self.batches.append([(r.collector, r.params["value"]) for r in requests])
        return [r.run_id for r in requests]


def dispatcher(hv, tmp_path, text=SCHEDULE):
    path = tmp_path / "schedule.yaml"
    path.write_text(textwrap.dedent(text))
    recorder = Recorder(hv)
    return ScheduleDispatcher(hv.registry, hv.store, path, strict=True, submit=recorder), recorder


def test_due_entries_go_out_once_per_occurrence_as_one_batch_per_group(hv, tmp_path):
    first, sent = dispatcher(hv, tmp_path)
    first.tick(T0 + timedelta(seconds=1))  # start: nothing is due yet
    assert sent.batches == []
    first.tick(T0 + timedelta(seconds=10))
    assert sent.batches == [[("ok", 1), ("ok", 2)]]  # file order; disabled and when=false left out
    first.tick(T0 + timedelta(seconds=11))  # same occurrence: nothing new
    assert len(sent.batches) == 1
    first.tick(T0 + timedelta(seconds=20))
    assert len(sent.batches) == 2
    notes = [o["note"] for o in hv.store.occurrences() if o["note"]]
    assert notes == ["when predicate predicates:never returned false"] * 2


def test_a_second_scheduler_never_dispatches_the_same_occurrence(hv, tmp_path):
    first, sent_first = dispatcher(hv, tmp_path)
    second, sent_second = dispatcher(hv, tmp_path)
    for tick in (1, 10, 20, 30):
        now = T0 + timedelta(seconds=tick)
        second.tick(now + timedelta(milliseconds=5))
        first.tick(now)
    assert len(sent_first.batches) + len(sent_second.batches) == 3
    assert len(hv.store.occurrences()) == 3 * 3  # three entries (incl. the skipped one) x three occurrences


def test_after_downtime_a_missed_occurrence_runs_once(hv, tmp_path):
    before, sent_before = dispatcher(hv, tmp_path)
    before.tick(T0 + timedelta(seconds=1))
    before.tick(T0 + timedelta(seconds=10))
    assert len(sent_before.batches) == 1
    # down for two days: many `every 10s` ticks and two 03:00 occurrences were missed
    after, sent_after = dispatcher(hv, tmp_path)
    after.tick(T0 + timedelta(days=2, seconds=5))
    assert sorted(sent_after.batches) == [[("ok", 1), ("ok", 2)]]  # the 10s entries once
    after.tick(T0 + timedelta(days=2, hours=15, seconds=1))  # past 03:00 of day 3
    assert [("ok", 5)] in sent_after.batches


def test_a_new_entry_does_not_fire_for_the_past(hv, tmp_path):
    only_daily, sent = dispatcher(
        hv, tmp_path, SCHEDULE.split("  fast:")[0] + SCHEDULE.split("        params: {value: 4}")[1]
    )
    only_daily.tick(T0)  # 12:00, 03:00 already passed today
    assert sent.batches == []


def test_edits_are_picked_up_and_a_broken_edit_keeps_the_last_good_schedule(hv, tmp_path):
    running, sent = dispatcher(hv, tmp_path)
    path = tmp_path / "schedule.yaml"
    path.write_text(
        textwrap.dedent(SCHEDULE).replace("every 10s\n        enabled: false", "every 10s\n        enabled: true")
    )
    running.reload_requested = True  # what SIGHUP does; an mtime change does the same
    running.reload_if_changed(T0)
    running.tick(T0 + timedelta(seconds=1))
    running.tick(T0 + timedelta(seconds=10))
    assert sent.batches == [[("ok", 1), ("ok", 2), ("ok", 3)]]
    path.write_text("groups: [broken")
    running.reload_requested = True
    running.reload_if_changed(T0 + timedelta(seconds=11))
    assert running.error is not None
    assert "schedule.yaml:1:" in running.error
    running.tick(T0 + timedelta(seconds=20))
    assert sent.batches[-1] == [("ok", 1), ("ok", 2), ("ok", 3)]


def test_strict_start_up_refuses_a_bad_file(hv, tmp_path):
    with pytest.raises(ConfigError, match=r"schedule.yaml:5: unknown collector 'okk'"):
        dispatcher(
            hv,
            tmp_path,
            SCHEDULE.replace(
                "collector: ok\n        schedule: every 10s\n        params: {value: 1}",
                "collector: okk\n        schedule: every 10s\n        params: {value: 1}",
            ),
        )


def test_an_entry_with_targets_fans_out_to_one_run_per_target(hv, tmp_path):
    text = """
    groups:
      customers:
        tasks:
          - collector: per_customer
            schedule: every 10s
    """
    path = tmp_path / "schedule.yaml"
    path.write_text(textwrap.dedent(text))
    sent: list[list[str]] = []
    fan = ScheduleDispatcher(
        hv.registry,
        hv.store,
        path,
        strict=True,
        submit=lambda rs: sent.append([r.params["customer"] for r in rs]) or [],
    )
    fan.tick(T0 + timedelta(seconds=1))
    fan.tick(T0 + timedelta(seconds=10))
    assert sent == [["acme", "globex"]]
    assert len(hv.store.occurrences()) == 1


def test_entry_queue_and_overlap_override_the_collectors(hv, tmp_path):
    text = """
    groups:
      g:
        tasks:
          - collector: ok
            schedule: every 10s
            queue: nightly
            overlap: queue
    """
    path = tmp_path / "schedule.yaml"
    path.write_text(textwrap.dedent(text))
    sent = []
    overriding = ScheduleDispatcher(hv.registry, hv.store, path, strict=True, submit=lambda rs: sent.extend(rs) or [])
    overriding.tick(T0 + timedelta(seconds=1))
    overriding.tick(T0 + timedelta(seconds=10))
    assert [(r.queue, r.overlap) for r in sent] == [("nightly", "queue")]


def test_an_entry_added_by_a_reload_starts_from_the_reload_time(hv, tmp_path):
    """`daily at 03:00` added at 12:00 first runs tomorrow at 03:00, not at once."""
    running, sent = dispatcher(hv, tmp_path, SCHEDULE.split("  daily:")[0])
    running.tick(T0)
    path = tmp_path / "schedule.yaml"
    path.write_text(textwrap.dedent(SCHEDULE))
    running.reload_requested = True
    running.reload_if_changed(T0 + timedelta(seconds=5))
    running.tick(T0 + timedelta(seconds=6))
    assert [("ok", 5)] not in sent.batches
    running.tick(T0 + timedelta(hours=15, seconds=1))  # 03:00 tomorrow has passed
    assert [("ok", 5)] in sent.batches


def test_occurrence_and_its_runs_are_one_transaction(hv, tmp_path, monkeypatch):
    """A failed write records neither the occurrence nor its runs, and the position stays: the next
    tick dispatches the same occurrence."""
    running, sent = dispatcher(hv, tmp_path)
    running.tick(T0 + timedelta(seconds=1))
    real = hv.store.create_runs

    def broken(new, conn=None):
        raise OperationalError("INSERT INTO runs", {}, Exception("database is locked"))

    monkeypatch.setattr(hv.store, "create_runs", broken)
    running.tick(T0 + timedelta(seconds=10))
    assert sent.batches == []
    assert hv.store.occurrences() == []
    assert hv.store.list_runs() == []
    monkeypatch.setattr(hv.store, "create_runs", real)
    running.tick(T0 + timedelta(seconds=11))
    assert sent.batches == [[("ok", 1), ("ok", 2)]]
    occurrences = [o for o in hv.store.occurrences() if o["run_id"]]
    assert {o["due_at"] for o in occurrences} == {T0 + timedelta(seconds=10)}
    assert len(hv.store.list_runs()) == 2


def test_only_the_winning_scheduler_evaluates_when_and_targets(hv, tmp_path):
    from predicates import CALLS

    text = """
    groups:
      g:
        tasks:
          - collector: ok
            schedule: every 10s
            when: predicates:counting
            params: {value: 1}
    """
    first, sent_first = dispatcher(hv, tmp_path, text)
    second, sent_second = dispatcher(hv, tmp_path, text)
    CALLS.clear()
    for moment in (T0 + timedelta(seconds=1), T0 + timedelta(seconds=10), T0 + timedelta(seconds=20)):
        first.tick(moment)
        second.tick(moment)
    assert len(CALLS) == 2  # one per occurrence, by the scheduler that won it
    assert len(sent_first.batches) + len(sent_second.batches) == 2


def test_beat_sleeps_until_the_next_due_instant_and_a_failed_write_waits_a_second(hv, tmp_path, monkeypatch):
    running, sent = dispatcher(hv, tmp_path)
    assert running.seconds_until_due(T0) == 1.0  # not started (its first tick failed, say): the usual second
    running.tick(T0 + timedelta(seconds=1))
    assert running.seconds_until_due(T0 + timedelta(seconds=1)) == 9.0  # the `every 10s` entries, at :10
    assert running.seconds_until_due(T0 + timedelta(seconds=10, milliseconds=1)) == 0.0  # due: no sleep
    real = hv.store.create_runs

    def broken(new, conn=None):
        raise OperationalError("INSERT INTO runs", {}, Exception("database is locked"))

    monkeypatch.setattr(hv.store, "create_runs", broken)
    running.tick(T0 + timedelta(seconds=10))
    assert running.seconds_until_due(T0 + timedelta(seconds=10)) == 1.0  # not a busy loop on the database
    monkeypatch.setattr(hv.store, "create_runs", real)
    running.tick(T0 + timedelta(seconds=11))
    assert sent.batches == [[("ok", 1), ("ok", 2)]]
    assert running.seconds_until_due(T0 + timedelta(seconds=11)) == 9.0


def test_a_tick_walks_the_schedule_only_of_entries_that_are_due(hv, tmp_path, monkeypatch):
    """Each entry's next occurrence is computed once per position: a tick where nothing is due
    compares times and does not evaluate any entry's schedule again."""
    import harvester.dispatch.scheduler as scheduler

    walked = []
    real_due = scheduler.due
    monkeypatch.setattr(scheduler, "due", lambda entry, *args: walked.append(entry.index) or real_due(entry, *args))
    running, sent = dispatcher(hv, tmp_path)
    running.tick(T0 + timedelta(seconds=1))
    for second in range(2, 10):
        running.tick(T0 + timedelta(seconds=second))
    assert walked == []
    running.tick(T0 + timedelta(seconds=10))
    assert sorted(walked) == [0, 1, 3]  # the due `every 10s` entries (the disabled one is not enabled)
    assert sent.batches == [[("ok", 1), ("ok", 2)]]


def test_an_entry_without_targets_is_validated_once_and_each_occurrence_gets_new_ids(hv, tmp_path, monkeypatch):
    import harvester.dispatch.scheduler as scheduler

    built = []
    real = scheduler.entry_requests
    monkeypatch.setattr(
        scheduler, "entry_requests", lambda reg, entry, *a: built.append(entry.index) or real(reg, entry, *a)
    )
    ids: list[list[str]] = []
    path = tmp_path / "schedule.yaml"
    path.write_text(textwrap.dedent(SCHEDULE))
    running = ScheduleDispatcher(
        hv.registry, hv.store, path, strict=True, submit=lambda rs: ids.append([r.run_id for r in rs])
    )
    for second in (1, 10, 20, 30):
        running.tick(T0 + timedelta(seconds=second))
    assert sorted(built) == [0, 1]  # once per entry, not per occurrence
    assert len(ids) == 3
    assert len({i for batch in ids for i in batch}) == 6
    rows = hv.store.list_runs(limit=10)
    assert {r["id"] for r in rows} == {i for batch in ids for i in batch}
    assert len({r["batch_id"] for r in rows}) == 3
    assert {r["params"]["value"] for r in rows} == {1, 2}
    path.write_text(textwrap.dedent(SCHEDULE).replace("value: 2}", "value: 22}"))
    running.reload_requested = True
    running.reload_if_changed(T0 + timedelta(seconds=31))
    running.tick(T0 + timedelta(seconds=40))
    assert sorted(built) == [0, 0, 1, 1]  # a reload builds them again


def test_beat_never_spins_when_the_schedule_dispatch_fails(hv, tmp_path, monkeypatch):
    """A tick that raised (the database down before the first positions were read, say) sleeps
    the usual second: no busy loop that logs an error every few milliseconds."""
    from celery import Celery

    from harvester.dispatch.scheduler import make_scheduler_class

    running, _ = dispatcher(hv, tmp_path)

    def down():
        raise OperationalError("SELECT occurrences", {}, Exception("connection refused"))

    monkeypatch.setattr(hv.store, "last_occurrences", down)
    beat_class = make_scheduler_class(running)
    app = Celery(broker="memory://", set_as_current=False)
    scheduler = beat_class(app=app, schedule_filename=str(tmp_path / "beat-schedule"))
    scheduler.checks = None
    assert scheduler.tick() == 1.0
    monkeypatch.undo()
    scheduler.tick()  # positions read: now it sleeps until the `every 10s` entries are due
    assert 0 < scheduler.tick() <= 1.0
