"""Beat's scheduler: one log line per dispatch, several schedules of one collector in a group, and a
missing schedule file (time passed in)."""

from __future__ import annotations

import logging
import textwrap
from datetime import UTC, datetime, timedelta

import pytest

from harvester import Harvester, Settings
from harvester.dispatch.scheduler import MISSING_FILE_WARNING_EVERY, ScheduleDispatcher
from harvester.errors import ConfigError

# Friday 2026-05-15: the daily, the weekly-on-Friday and the monthly-on-15 entry are all due at 00:05.
T0 = datetime(2026, 5, 14, 23, 0, tzinfo=UTC)
THREE = """
groups:
  github:
    default_time: "00:05"
    tasks:
      - {collector: ok, schedule: daily, params: {value: 1}}
      - {collector: ok, schedule: weekly, on: friday, params: {value: 1}}
      - {collector: ok, schedule: monthly, on: '15', params: {value: 1}}
"""


@pytest.fixture
def hv(tmp_path):
    made = Harvester(Settings(data_dir=tmp_path / "data", collectors=["sample_collectors"]))
    made.store.upgrade()
    yield made
    made.close()


def make(hv, path, *, optional=False):
    sent: list[list[str]] = []
    running = ScheduleDispatcher(
        hv.registry, hv.store, path, strict=True, optional=optional, submit=lambda rs: sent.append(rs) or []
    )
    return running, sent


def test_one_collector_on_three_schedules_of_a_group_dispatches_each(hv, tmp_path):
    path = tmp_path / "schedule.yaml"
    path.write_text(textwrap.dedent(THREE))
    running, sent = make(hv, path)
    running.tick(T0)
    running.tick(T0 + timedelta(hours=1, minutes=10))  # 00:10 UTC on Friday the 15th
    assert [len(batch) for batch in sent] == [3]
    assert len({o["entry_key"] for o in hv.store.occurrences()}) == 3
    running.tick(T0 + timedelta(days=1, hours=1, minutes=10))  # Saturday: only the daily one
    assert [len(batch) for batch in sent] == [3, 1]


def test_each_dispatch_is_one_info_line_naming_entry_occurrence_and_runs(hv, tmp_path, caplog):
    path = tmp_path / "schedule.yaml"
    path.write_text(textwrap.dedent(THREE))
    running, sent = make(hv, path)
    running.tick(T0)
    with caplog.at_level(logging.INFO, logger="harvester.dispatch.scheduler"):
        running.tick(T0 + timedelta(hours=1, minutes=10))
    lines = [r.getMessage() for r in caplog.records if r.name == "harvester.dispatch.scheduler"]
    run_ids = [r.run_id for r in sent[0]]
    assert lines == [
        f"Sending due entry github/ok (line 6, daily at 00:05) occurrence 2026-05-15T00:05:00+00:00: run {run_ids[0]}",
        f"Sending due entry github/ok (line 7, weekly on friday at 00:05) occurrence 2026-05-15T00:05:00+00:00: "
        f"run {run_ids[1]}",
        f"Sending due entry github/ok (line 8, monthly on day 15 at 00:05) occurrence 2026-05-15T00:05:00+00:00: "
        f"run {run_ids[2]}",
    ]
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "harvester.dispatch.scheduler")


def test_a_named_schedule_file_that_is_missing_stops_start_up(hv, tmp_path):
    with pytest.raises(ConfigError, match=r"cannot read schedule file .*nope\.yaml"):
        make(hv, tmp_path / "nope.yaml")


def test_the_default_file_may_be_absent_and_beat_says_so_every_few_minutes(hv, tmp_path, caplog):
    path = tmp_path / "schedule.yaml"
    running, sent = make(hv, path, optional=True)
    assert running.missing
    with caplog.at_level(logging.WARNING, logger="harvester.dispatch.scheduler"):
        running.tick(T0)
        running.tick(T0 + timedelta(minutes=1))
        running.tick(T0 + MISSING_FILE_WARNING_EVERY)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert warnings[0].startswith(f"no schedule file at {path}")
    assert "nothing is scheduled" in warnings[0]
    path.write_text(textwrap.dedent(THREE))  # the file appears: picked up like an edit
    running.reload_if_changed(T0 + timedelta(minutes=6))
    assert not running.missing
    running.tick(T0 + timedelta(hours=1, minutes=10))
    assert [len(batch) for batch in sent] == [3]
