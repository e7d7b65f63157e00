"""``runs``: the run history, newest first; ``runs show`` and ``runs prune``."""

from __future__ import annotations

import re
import textwrap
from datetime import datetime, timedelta

import click
from rich.text import Text

from harvester.cli.context import CliState, fail
from harvester.cli.output import dumps, run_json, runs_table, status_text
from harvester.history.engine import utcnow
from harvester.history.states import STATUSES as RUN_STATUSES

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
STATUSES = RUN_STATUSES


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
    row = store.get_run(run_id) or next((r for r in store.list_runs(limit=1000) if r["id"].startswith(run_id)), None)
    if row is None:
        fail(1, f"no run {run_id!r}")
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


@runs.command()
@click.option("--older-than", required=True, help="Age of the runs to delete, e.g. 90d.")
@click.pass_obj
def prune(state: CliState, older_than: str) -> None:
    """Delete finished runs older than --older-than (running and queued runs are kept)."""
    removed = state.app.store.prune(utcnow() - parse_age(older_than))
    click.echo(f"deleted {removed} runs older than {older_than}")


COMMANDS = (runs,)
