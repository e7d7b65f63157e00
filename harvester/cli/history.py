"""``runs``: the run history, newest first; ``runs show``, ``runs logs``, ``runs cancel`` and ``runs prune``."""

from __future__ import annotations

import re
import textwrap
import time
from datetime import datetime, timedelta
from typing import Any

import click
from rich.text import Text

from harvester.cli.context import CliState, fail
from harvester.cli.output import dumps, run_json, runs_table, status_text, usage_text
from harvester.history.engine import utcnow
from harvester.history.states import FINISHED
from harvester.history.states import STATUSES as RUN_STATUSES

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
STATUSES = RUN_STATUSES
#: Lines read per query while printing a run's logs.
LOG_PAGE = 1000
LEVEL_STYLES = {"DEBUG": "dim", "WARNING": "yellow", "ERROR": "red", "CRITICAL": "bold red"}


def parse_age(text: str) -> timedelta:
    """``90d``, ``12h``, ``30m``, ``45s``, ``2w`` -> timedelta."""
    match = _DURATION.match(text)
    if not match:
        raise click.BadParameter(f"{text!r} is not a duration like 90d, 12h, 30m")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@click.group(invoke_without_command=True)
@click.option("--collector", help="Only runs of this collector.")
@click.option("--status", type=click.Choice(STATUSES), help="Only runs with this status.")
@click.option("--since", help="Only runs queued within this long (e.g. 24h, 7d).")
@click.option("--limit", type=click.IntRange(1, 10000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of run objects.")
@click.pass_context
def runs(
    ctx: click.Context, collector: str | None, status: str | None, since: str | None, limit: int, as_json: bool
) -> None:
    """Run history, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    state: CliState = ctx.obj
    after: datetime | None = utcnow() - parse_age(since) if since else None
    rows = state.app.store.list_runs(collector=collector, status=status, since=after, limit=limit)
    if as_json:
        click.echo(dumps([run_json(r) for r in rows]))
    elif rows:
        state.console.print(runs_table(rows))
    else:
        state.console.print("no runs yet")


@runs.command()
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def show(state: CliState, run_id: str, as_json: bool) -> None:
    """One run with its attempts (RUN_ID may be the 8-character prefix shown by `runs`)."""
    store = state.app.store
    row = _find_run(state, run_id)
    attempts = store.attempts(row["id"])
    members = store.members(row["id"]) if row["members"] is not None else []
    if as_json:
        click.echo(dumps({**run_json(row), "attempts": attempts, "member_runs": [run_json(m) for m in members]}))
        return
    for key, value in run_json(row).items():
        if key != "error_traceback":
            state.console.print(f"[bold]{key:>15}[/] {status_text(value) if key == 'status' else value}")
    for a in attempts:
        retry = f", retry in {a['retry_in']:.1f}s" if a["retry_in"] is not None else ""
        if usage_text(a):
            retry = f", {usage_text(a)}{retry}"
        if a.get("duration") is not None:
            retry = f", took {a['duration']:.2f}s{retry}"
        state.console.print(
            f"  attempt {a['attempt']}: {status_text(a['status'])} on {a['worker']} "
            f"at {a['started_at']:%H:%M:%S}{retry} {a['error_message'] or ''}"
        )
        if a.get("error_traceback"):
            state.console.print(
                Text(textwrap.indent(a["error_traceback"].rstrip(), "    "), style="dim"), soft_wrap=True
            )
    if members:
        state.console.print(f"[bold]{'member runs':>15}[/] (fan-out; `harvester runs show RUN_ID` for one)")
    for m in members:
        error = f" {m['error_category']}: {m['error_message']}" if m["error_category"] else ""
        state.console.print(f"  {m['id'][:8]} {m['collector']} {status_text(m['status'])}{error}")


def _find_run(state: CliState, run_id: str) -> dict[str, Any]:
    """The run ``run_id`` names: a whole id, or the 8-character prefix ``runs`` shows."""
    store = state.app.store
    row = store.get_run(run_id) or next((r for r in store.list_runs(limit=1000) if r["id"].startswith(run_id)), None)
    if row is None:
        fail(1, f"no run {run_id!r}")
    return row


@runs.command()
@click.argument("run_id")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until the run ends.")
@click.option("--attempt", type=click.IntRange(1), help="Only the lines of this attempt.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--interval", type=click.FloatRange(0.1), default=1.0, show_default=True, help="Seconds between polls.")
@click.pass_obj
def logs(state: CliState, run_id: str, follow: bool, attempt: int | None, as_json: bool, interval: float) -> None:
    """What a run logged, attempt by attempt (RUN_ID may be the 8-character prefix).

    The lines its collector logged through self.logger, and the libraries it called, as captured
    by the worker (HARVESTER_RUN_LOG_LINES per attempt). With --follow, a queued or running run is
    tailed until it ends.
    """
    store = state.app.store
    run_id = _find_run(state, run_id)["id"]
    last = 0
    while True:
        run = store.get_run(run_id) if follow else None  # read before the lines: none is missed
        ended = run is None or run["status"] in FINISHED
        lines = store.run_logs(run_id, after=last, limit=LOG_PAGE)
        for line in lines:
            last = line["id"]
            if attempt is None or line["attempt"] == attempt:
                _print_line(state, line, as_json)
        if len(lines) == LOG_PAGE:
            continue  # more waiting: no sleep
        if not follow or ended:
            return
        time.sleep(interval)


def _print_line(state: CliState, line: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(dumps({k: line[k] for k in ("attempt", "logged_at", "level", "logger", "message")}, indent=None))
        return
    when = line["logged_at"].strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    style = LEVEL_STYLES.get(line["level"], "")
    head = Text(f"{when} #{line['attempt']} ")
    head.append(f"{line['level']:<7}", style=style)
    head.append(f" {line['logger']}: ")
    head.append(line["message"])
    state.console.print(head, soft_wrap=True, highlight=False)


@runs.command()
@click.argument("run_id")
@click.pass_obj
def cancel(state: CliState, run_id: str) -> None:
    """Cancel a run that has not ended (RUN_ID may be the 8-character prefix).

    A queued or retrying run never starts; a running one is stopped on its worker (Celery's
    revoke with terminate) and its overlap lock released; a fan-out parent takes its unfinished
    members with it. Exits 1 when the run had ended already.
    """
    row = _find_run(state, run_id)
    cancelled = state.app.cancel(row["id"])
    if not cancelled.recorded:
        fail(1, f"run {row['id']} was not cancelled: it is {cancelled.was}")
    members = len(cancelled.stop) - 1
    extra = f" and {members} of its member runs" if members else ""
    state.console.print(f"cancelled run {row['id']}{extra} (it was {cancelled.was})")


@runs.command()
@click.option("--older-than", required=True, help="Age of the runs to delete, e.g. 90d.")
@click.pass_obj
def prune(state: CliState, older_than: str) -> None:
    """Delete finished runs older than --older-than (running and queued runs are kept)."""
    removed = state.app.store.prune(utcnow() - parse_age(older_than))
    click.echo(f"deleted {removed} runs older than {older_than}")


COMMANDS = (runs,)
