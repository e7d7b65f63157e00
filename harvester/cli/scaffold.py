"""``startcollector``: scaffold a collector package that passes its own tests and linters."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from harvester import scaffold
from harvester.cli.context import CliState, fail
from harvester.execution.runner import EXIT_CONFIG


@click.command("startcollector")
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="Print the planned files and the schedule snippet; write nothing.")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default=True,
    help="Folder in which the package folder NAME is created.",
)
@click.pass_obj
def startcollector(state: CliState, name: str, dry_run: bool, directory: Path) -> None:
    """Create the collector package NAME: collector, params, service module, tests, schedule snippet.

    NAME is the collector's name and the package's: lower-case letters, digits and underscores.
    Existing files are never overwritten.
    """
    try:
        taken = state.unchecked_app.registry.names()  # the registry only: no database is touched
        planned = scaffold.plan(name, directory, taken)
        if not dry_run:
            scaffold.write(planned)
    except scaffold.ScaffoldError as exc:
        fail(EXIT_CONFIG, str(exc))
    console = state.console
    console.print(f"{'would create' if dry_run else 'created'} {escape(str(planned.root))}/", highlight=False)
    for item in planned.files:
        console.print(f"  {escape(str(item.path.relative_to(planned.root)))}", highlight=False)
    click.echo(f"\n{scaffold.SNIPPET}:\n{planned.snippet}")
    if dry_run:
        console.print("dry run: nothing was written")
        return
    folder = planned.root.parent.resolve()
    console.print(
        "next: check it, register it and run it:\n"
        f"  python -m pytest {escape(str(planned.root))}\n"
        f"  export PYTHONPATH={escape(str(folder))} HARVESTER_COLLECTORS={name}\n"
        f"  harvester run {name}",
        highlight=False,
    )


COMMANDS = (startcollector,)
