"""How runs look in a terminal: one summary line, a table, JSON; the consoles that print them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from harvester.settings import Settings
from harvester.whereabouts import uses

#: Width of a console whose output is no terminal (a pipe, a file): wide enough that no table row
#: is wrapped, so each row stays one line that grep, cut and awk can read.
OFF_TERMINAL_WIDTH = 10_000

STATUS_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "retrying": "yellow",
    "running": "cyan",
    "waiting": "cyan",
    "queued": "blue",
    "skipped": "magenta",
    "expired": "magenta",
}

RUN_FIELDS = (
    "run_id",
    "collector",
    "params",
    "status",
    "attempt",
    "trigger",
    "queued_at",
    "started_at",
    "finished_at",
    "duration",
    "records",
    "result",
    "error_category",
    "error_phase",
    "error_message",
    "error_traceback",
    "parent_run_id",
    "batch_id",
    "members",
    "member_index",
    "task_id",
    "worker",
    "waiting_for",
    "progress_done",
    "progress_total",
    "expires_at",
    "cpu_seconds",
    "peak_memory",
)


def make_console(*, stderr: bool = False) -> Console:
    """A console that composes: colours only on a terminal and never with ``NO_COLOR`` set (rich
    reads it); off a terminal no width limit, so no line is hard-wrapped inside a word."""
    console = Console(stderr=stderr)
    if not console.is_terminal:
        console = Console(stderr=stderr, width=OFF_TERMINAL_WIDTH, soft_wrap=True)
    return console


def startup_line(process: str, settings: Settings) -> str:
    """``harvester worker uses data folder /abs/.harvester (history and broker)``: what a process says
    first, so two processes that do not share their data folder or servers are seen to at once."""
    return f"harvester {process} uses {uses(settings)}"


def run_json(row: dict[str, Any]) -> dict[str, Any]:
    """A history row as the documented JSON object (``run_id`` rather than the column ``id``)."""
    data = {"run_id": row["id"], **{k: v for k, v in row.items() if k not in ("id", "params_key", "heartbeat_at")}}
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in data.items() if k in RUN_FIELDS}


def _json_default(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def dumps(data: Any, indent: int | None = 2) -> str:
    return json.dumps(data, indent=indent, default=_json_default)


def usage_text(row: dict[str, Any]) -> str:
    """``cpu 1.08s, peak 189.3 MiB``: what an attempt cost (empty when unknown)."""
    parts = []
    if row.get("cpu_seconds") is not None:
        parts.append(f"cpu {row['cpu_seconds']:.2f}s")
    if row.get("peak_memory") is not None:
        parts.append(f"peak {row['peak_memory'] / 2**20:.1f} MiB")
    return ", ".join(parts)


def status_text(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"


def age(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    from harvester.history.engine import utcnow

    seconds = (utcnow() - moment).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit} ago"
    return f"{seconds:.0f}s ago"


def runs_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(header_style="bold", box=None, pad_edge=False)
    for column in ("run", "collector", "status", "att", "queued", "took", "recs"):
        table.add_column(column, no_wrap=True, min_width=len(column))
    # The error takes the width that is left (at least 20), folded: `runs show` has it whole.
    table.add_column("error", overflow="fold", min_width=20)
    for row in rows:
        error = (
            f"{row['error_category']} in {row['error_phase']}: {row['error_message']}"
            if row["error_category"]
            else (row["error_message"] or "")
        )
        if row.get("waiting_for"):
            error = f"waiting: {row['waiting_for']}"
        took = f"{row['duration']:.2f}s" if row["duration"] is not None else "-"
        table.add_row(
            row["id"][:8],
            row["collector"],
            status_text(row["status"]),
            str(row["attempt"]),
            age(row["queued_at"]),
            took,
            str(row["records"]),
            error,
        )
    return table


def print_outcome(console: Console, row: dict[str, Any]) -> None:
    """The closing line of ``run`` and ``trigger --wait``."""
    status = row["status"]
    took = f" in {row['duration']:.2f}s" if row.get("duration") is not None else ""
    console.print(f"{row['collector']} {status_text(status)}{took} (run {row['id']}, attempt {row['attempt']})")
    if status == "succeeded" and row.get("result") is not None:
        console.print_json(json.dumps(row["result"], default=str))
    elif row.get("error_message"):
        where = f"{row['error_category']} error in phase {row['error_phase']}: " if row.get("error_category") else ""
        console.print(f"[red]{where}{row['error_message']}[/]" if status == "failed" else row["error_message"])
