"""``schedule check`` and ``schedule show``: the schedule file, checked with line numbers, and its next runs."""

from __future__ import annotations

import json
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any, get_args

import click
from rich.markup import escape
from rich.table import Table

from harvester.cli.context import CliState, fail
from harvester.cli.output import dumps, status_text
from harvester.errors import ConfigError
from harvester.execution.runner import RunResult
from harvester.registry import Registry
from harvester.schedule.entries import Kind, Schedule, ScheduleEntry, did_you_mean, format_duration
from harvester.schedule.loader import load_schedule
from harvester.schedule.timing import next_runs, runs_on

_FILE = click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))


@click.group("schedule")
@click.pass_context
def schedule(ctx: click.Context) -> None:
    """Check the schedule file and show when its entries run next.

    FILE defaults to HARVESTER_SCHEDULE_FILE (schedule.yaml in the current folder).
    """
    if ctx.find_object(CliState) is None:  # invoked on its own rather than under `harvester`
        ctx.obj = CliState()
        ctx.call_on_close(ctx.obj.close)


def _load(state: CliState, file: Path | None) -> tuple[Schedule, Registry]:
    registry = state.unchecked_app.registry
    try:
        return load_schedule(file or state.settings.schedule_file, registry, strict=False), registry
    except ConfigError as exc:
        fail(2, str(exc))


@schedule.command("check")
@_FILE
@click.pass_obj
def check(state: CliState, file: Path | None) -> None:
    """Print every problem of FILE as FILE:LINE: message; exit 1 if there is any."""
    loaded, _ = _load(state, file)
    for problem in loaded.problems:
        click.echo(str(problem))
    if loaded.problems:
        count = len(loaded.problems)
        click.echo(f"{count} problem{'s' if count != 1 else ''}", err=True)
        raise click.exceptions.Exit(1)
    count = len(loaded.entries)
    click.echo(f"{count} entr{'ies' if count != 1 else 'y'} OK")


@schedule.command("show")
@_FILE
@click.option(
    "--after",
    "after_text",
    metavar="DATETIME",
    help="Show the runs after this moment (ISO 8601; without an offset: in the schedule's time zone). Default: now.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout instead of the table.")
@click.pass_obj
def show(state: CliState, file: Path | None, after_text: str | None, as_json: bool) -> None:
    """Each entry with its next three run times in the schedule's time zone.

    Problems are printed first (to stderr); their entries are left out. With --json: an object
    with the time zone, the moment after which runs are shown, the entries (next runs as ISO 8601,
    freshness and expires in seconds, expires null for never, secret params masked) and the problems.
    """
    loaded, registry = _load(state, file)
    for problem in loaded.problems:
        state.err.print(escape(str(problem)), style="red", highlight=False)
    after = _after(after_text, loaded)
    if as_json:
        click.echo(dumps(_show_json(loaded, registry, after)))
        return
    table = Table(header_style="bold", box=None, pad_edge=False, title=f"time zone: {loaded.timezone.key}")
    for column in ("group", "collector", "params", "schedule", "enabled", "next runs", "freshness", "expires"):
        table.add_column(column, no_wrap=column in ("enabled", "next runs", "freshness", "expires"), overflow="fold")
    for entry in loaded.entries:
        table.add_row(
            escape(entry.group),
            escape(entry.collector),
            escape(_params_text(entry, registry)),
            escape(entry.schedule_text),
            "yes" if entry.enabled else "[dim]no[/]",
            _next_text(entry, after, loaded) if entry.enabled else "[dim]disabled[/]",
            format_duration(entry.freshness),
            format_duration(entry.expires) if entry.expires else "never",
        )
    state.console.print(table)


def _show_json(loaded: Schedule, registry: Registry, after: datetime) -> dict[str, Any]:
    entries = [
        {
            "group": entry.group,
            "collector": entry.collector,
            "line": entry.line,
            "params": registry.get(entry.collector).masked_params(entry.params),
            "schedule": entry.schedule_text,
            "enabled": entry.enabled,
            "next_runs": [run.isoformat() for run in next_runs(entry, after, loaded.timezone, 3)]
            if entry.enabled
            else [],
            "freshness": entry.freshness.total_seconds(),
            "expires": entry.expires.total_seconds() if entry.expires else None,
        }
        for entry in loaded.entries
    ]
    problems = [str(problem) for problem in loaded.problems]
    return {"timezone": loaded.timezone.key, "after": after.isoformat(), "entries": entries, "problems": problems}


def _after(text: str | None, loaded: Schedule) -> datetime:
    if text is None:
        return datetime.now(loaded.timezone)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(2, f"bad --after '{text}': expected an ISO 8601 date and time, e.g. 2025-03-30T00:00")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=loaded.timezone)


def _next_text(entry: ScheduleEntry, after: datetime, loaded: Schedule) -> str:
    runs = next_runs(entry, after, loaded.timezone, 3)
    seconds = any(run.second for run in runs)
    return "\n".join(run.strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else "") + " %Z") for run in runs)


def _params_text(entry: ScheduleEntry, registry: Registry) -> str:
    """``repo=boostorg/boost token=${TOKEN}``: one ``key=value`` per field, secret values masked."""
    pairs = []
    for key, shown in registry.get(entry.collector).masked_params(entry.params).items():
        pairs.append(f"{key}={shown if isinstance(shown, str) else json.dumps(shown, default=str)}")
    return " ".join(pairs) or "-"


@click.command("run-scheduled")
@click.option("--group", "-g", required=True, help="The group whose batch runs.")
@click.option(
    "--schedule",
    "kind",
    type=click.Choice([*get_args(Kind), "all"]),
    help="Only the group's entries of this kind (e.g. daily), or all of them. "
    "Default: the entries due on --day (daily ones, weekly and monthly ones whose day it is).",
)
@click.option(
    "--day",
    "day_text",
    metavar="DATE",
    help="Without --schedule: run the entries due on this day (YYYY-MM-DD). Default: today in the schedule's "
    "time zone.",
)
@click.option("--stop-on-failure", is_flag=True, help="After a failure, skip the rest of the batch.")
@click.option(
    "--file", "file", type=click.Path(dir_okay=False, path_type=Path), help="[default: HARVESTER_SCHEDULE_FILE]"
)
@click.pass_obj
def run_scheduled(
    state: CliState, group: str, kind: str | None, day_text: str | None, stop_on_failure: bool, file: Path | None
) -> None:
    """Run one group's batch now, in this process: its enabled entries in file order, one after another.

    By default the entries due today, as the scheduler runs them: daily (and hourly, interval) entries,
    weekly and monthly ones whose day is today; `--schedule all` runs every enabled entry.
    Prints `N succeeded, M failed` and exits with the last failure's code (1, or 2 for a config error).
    """
    hv = state.app
    try:
        loaded = load_schedule(file or state.settings.schedule_file, hv.registry, strict=state.settings.schedule_strict)
    except ConfigError as exc:
        fail(2, str(exc))
    groups = sorted({e.group for e in loaded.entries})
    if group not in groups:
        fail(
            2, f"no group '{group}' in the schedule{did_you_mean(group, groups)}; groups: {', '.join(groups) or 'none'}"
        )
    if kind is not None and day_text is not None:
        fail(2, "--day picks the entries due that day; it does not go with --schedule")
    entries = [e for e in loaded.enabled if e.group == group and kind in (None, "all", e.spec.kind)]
    batch, which = entries, f"{kind} entries"
    if kind is None:
        day = _day(day_text, loaded)
        batch = [e for e in entries if runs_on(e, day)]
        when = "today" if day == today(loaded.timezone) else f"on {day:%A %Y-%m-%d}"
        for entry in entries:
            if entry not in batch:
                where = f"{entry.collector} (line {entry.line})"
                state.console.print(f"{escape(where)}: not due {when} ({escape(entry.schedule_text)})", highlight=False)
        which = f"entries due {when} in {loaded.timezone.key}; {len(entries) - len(batch)} not due"
    results = hv.run_batch(batch, stop_on_failure=stop_on_failure, report=lambda e, r, why: _report(state, e, r, why))
    failed = [r for r in results if r.exit_code != 0]
    click.echo(f"{len(results) - len(failed)} succeeded, {len(failed)} failed ({which})")
    raise click.exceptions.Exit(failed[-1].exit_code if failed else 0)


def today(tz: tzinfo) -> date:
    """Today's date on the wall clock of ``tz``."""
    return datetime.now(tz).date()


def _day(text: str | None, loaded: Schedule) -> date:
    if text is None:
        return today(loaded.timezone)
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(2, f"bad --day '{text}': expected a date as YYYY-MM-DD, e.g. 2026-12-02")


def _report(state: CliState, entry: ScheduleEntry, result: RunResult | None, why: str) -> None:
    where = f"{entry.collector} (line {entry.line})"
    if result is None:
        state.console.print(f"{escape(where)}: [magenta]skipped[/]: {escape(why)}", highlight=False)
        return
    row = state.app.store.get_run(result.run_id) or {}
    detail = (
        f" ({row.get('error_category')} in {row.get('error_phase')}: {row.get('error_message')})"
        if (result.exit_code)
        else ""
    )
    state.console.print(f"{escape(where)}: {status_text(result.status)}{escape(detail)}", highlight=False)


COMMANDS = (schedule, run_scheduled)
