"""The schedule file: entries as frozen values (``entries``), loading with line numbers (``loader``),
and pure next-run arithmetic (``timing``). Nothing here dispatches; ``harvester beat`` will."""

from harvester.schedule.entries import Schedule, ScheduleEntry, ScheduleError, ScheduleProblem, ScheduleSpec
from harvester.schedule.loader import load_schedule, parse_schedule_text
from harvester.schedule.timing import derived_freshness, due, next_run, next_runs

__all__ = [
    "Schedule",
    "ScheduleEntry",
    "ScheduleError",
    "ScheduleProblem",
    "ScheduleSpec",
    "derived_freshness",
    "due",
    "load_schedule",
    "next_run",
    "next_runs",
    "parse_schedule_text",
]
