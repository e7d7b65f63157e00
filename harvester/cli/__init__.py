"""``harvester``: the command line. Loads the app lazily so ``--help`` needs no database."""

from __future__ import annotations

import sys

import click

from harvester.cli import (
    api,
    backfill,
    collectors,
    history,
    listing,
    processes,
    project,
    records,
    scaffold,
    schedule,
)
from harvester.cli.alerts import alerts
from harvester.cli.check import check as check_command
from harvester.cli.context import CliState
from harvester.errors import HarvesterError
from harvester.history.engine import DatabaseError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="harvester", prog_name="harvester")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """harvester: scheduled data collectors on Celery.

    Settings come from HARVESTER_* environment variables, .env and the project's
    [tool.harvester] table in pyproject.toml (found from here upwards; `harvester info`
    shows them); with none set, everything runs on this machine: SQLite history and an
    embedded broker in ./.harvester (in a project: under its root). `harvester init` makes a project.
    """
    ctx.obj = CliState()
    ctx.call_on_close(ctx.obj.close)


for command in (
    *api.COMMANDS,
    *backfill.COMMANDS,
    *collectors.COMMANDS,
    *listing.COMMANDS,
    *history.COMMANDS,
    *records.COMMANDS,
    *processes.COMMANDS,
    *schedule.COMMANDS,
    *project.COMMANDS,
):
    cli.add_command(command)
cli.add_command(scaffold.startcollector)
cli.add_command(check_command)
cli.add_command(alerts)


def main() -> None:
    try:
        cli.main(prog_name="harvester", standalone_mode=True)
    except HarvesterError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except DatabaseError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        click.echo(f"error: the history database failed: {reason}", err=True)
        click.echo("(is HARVESTER_DATABASE_URL right, the server up, and `harvester db upgrade` done?)", err=True)
        sys.exit(1)
