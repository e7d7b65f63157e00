"""``list``: the registered collectors, their schedule entries, next runs and freshness."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from harvester.app import Harvester
from harvester.cli.context import CliState
from harvester.cli.output import age, dumps, status_text
from harvester.cli.params import describe_params
from harvester.errors import ConfigError
from harvester.schedule.entries import Schedule, format_duration
from harvester.schedule.freshness import freshness
from harvester.schedule.loader import load_schedule
from harvester.schedule.timing import next_run

FRESHNESS_STYLE = {"fresh": "green", "stale": "red", "never run": "yellow"}


def _schedule(hv: Harvester) -> Schedule | None:
    """The schedule file if there is one (problems are `schedule check`'s business, not `list`'s)."""
    if not hv.settings.schedule_file.exists():
        return None
    try:
        return load_schedule(hv.settings.schedule_file, hv.registry, strict=False)
    except ConfigError:
        return None


def _entries(hv: Harvester, loaded: Schedule | None, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """Per collector: its enabled entries with schedule, next run and freshness."""
    by_collector: dict[str, list[dict[str, Any]]] = {}
    if loaded is None:
        return by_collector
    for fresh in freshness(loaded.entries, hv.store.last_successes(), hv.registry, now):
        entry = fresh.entry
        by_collector.setdefault(entry.collector, []).append(
            {
                "group": entry.group,
                "line": entry.line,
                "params": entry.params,
                "schedule": entry.schedule_text,
                "next_run": next_run(entry, now, loaded.timezone),
                "freshness": format_duration(entry.freshness),
                "status": fresh.status,
                "stale": fresh.stale,
                "last_success_at": fresh.last_success_at,
            }
        )
    return by_collector


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def list_collectors(state: CliState, as_json: bool) -> None:
    """Registered collectors: params, schedule entries, next run, freshness, last run."""
    hv = state.app
    now = datetime.now(UTC)
    last = hv.store.last_runs()
    scheduled = _entries(hv, _schedule(hv), now)
    items: list[dict[str, Any]] = []
    for cls in hv.registry:
        run = last.get(cls.name)
        items.append(
            {
                "name": cls.name,
                "description": cls.description,
                "params": describe_params(cls.Params),
                "queue": cls.queue or "harvester",
                "overlap": cls.overlap,
                "schedule": scheduled.get(cls.name, []),
                "last_status": run["status"] if run else None,
                "last_run_at": run["queued_at"].isoformat() if run else None,
            }
        )
    if as_json:
        click.echo(dumps(items))
        return
    state.console.print(_table(items, last))


def _table(items: list[dict[str, Any]], last: dict[str, dict[str, Any]]) -> Table:
    table = Table(header_style="bold", box=None, pad_edge=False)
    for column in ("collector", "params", "schedule", "next run", "freshness", "last run", "status"):
        table.add_column(column, overflow="fold")
    for item in items:
        params = ", ".join(
            f"{p['name']}{'' if p['required'] else '=' + json.dumps(p['default'], default=str)}" for p in item["params"]
        )
        entries = item["schedule"]
        run = last.get(item["name"])
        table.add_row(
            escape(item["name"]),
            escape(params or "-"),
            "\n".join(escape(e["schedule"]) for e in entries) or "-",
            "\n".join(e["next_run"].strftime("%Y-%m-%d %H:%M %Z") for e in entries) or "-",
            "\n".join(f"[{FRESHNESS_STYLE[e['status']]}]{e['status']}[/]" for e in entries) or "-",
            age(run["queued_at"]) if run else "never",
            status_text(run["status"]) if run else "-",
        )
    return table


COMMANDS = (list_collectors,)
