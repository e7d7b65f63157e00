"""``records NAME``: what a collector emitted, last changed first."""

from __future__ import annotations

import json

import click
from rich.table import Table

from harvester.cli.context import CliState, fail
from harvester.cli.output import age, dumps
from harvester.history.engine import aware
from harvester.history.queries import page_records

#: A payload longer than this is cut in the table (``--json`` has it whole).
PAYLOAD_WIDTH = 200


@click.command()
@click.argument("name")
@click.option("--key", help="Only records whose key starts with this.")
@click.option("--limit", type=click.IntRange(1, 10000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list: key, payload, first_seen, last_seen, run_id.")
@click.pass_obj
def records(state: CliState, name: str, key: str | None, limit: int, as_json: bool) -> None:
    """Records collector NAME emitted with emit(), last changed first."""
    if name not in state.app.registry:
        fail(1, f"unknown collector {name!r}; known: {', '.join(c.name for c in state.app.registry)}")
    rows = page_records(state.app.store, name, key=key, limit=limit).rows
    if as_json:
        fields = ("key", "payload", "first_seen", "last_seen", "run_id")
        click.echo(dumps([{f: aware(r[f]) if f.endswith("_seen") else r[f] for f in fields} for r in rows]))
        return
    if not rows:
        state.console.print(f"no records of {name}" + (f" with a key starting {key!r}" if key else ""))
        return
    table = Table(header_style="bold", box=None, pad_edge=False)
    for column in ("key", "changed", "run"):
        table.add_column(column, no_wrap=True)
    table.add_column("payload", overflow="fold")
    for row in rows:
        payload = json.dumps(row["payload"], default=str, ensure_ascii=False)
        if len(payload) > PAYLOAD_WIDTH:
            payload = payload[:PAYLOAD_WIDTH] + "…"
        table.add_row(row["key"], age(row["last_seen"]), (row["run_id"] or "-")[:8], payload)
    state.console.print(table, highlight=False)


COMMANDS = (records,)
