"""``startcollector``: scaffold a collector package that passes its own tests and linters; inside a
project, also register it and schedule it."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from harvester import scaffold
from harvester.cli.context import CliState, fail
from harvester.execution.runner import EXIT_CONFIG
from harvester.project import TABLE, Project
from harvester.scaffold.project import DEFAULT_SCHEDULE, with_collector, with_schedule_entry
from harvester.schedule.entries import parse_schedule

SCHEDULE_HELP = (
    "Inside a project: when the new collector's entry runs (every 30s, every 1h, hourly, daily, or a cron expression)."
)


def check_schedule_text(text: str) -> None:
    """Refuse a schedule the appended entry cannot hold on its own (weekly and monthly need `on:`)."""
    try:
        spec = parse_schedule(text)
    except ValueError as exc:
        raise scaffold.ScaffoldError(f"--schedule: {exc}") from None
    if spec.kind in ("weekly", "monthly"):
        raise scaffold.ScaffoldError(f"--schedule {text!r} needs an `on:` day: use another one, then edit the entry")


def shown(path: Path) -> str:
    """``path`` relative to the current folder when it lies below it (shorter on screen), else absolute."""
    resolved, here = path.resolve(), Path.cwd().resolve()
    return str(resolved.relative_to(here)) if resolved.is_relative_to(here) else str(resolved)


def add_collector(project: Project, schedule_file: Path, planned: scaffold.Plan, schedule: str) -> None:
    """Write the planned package, add it to the project's collectors and its entry to the schedule.

    Both edits are made (and read back) before anything is written: a refused one writes nothing."""
    pyproject = with_collector(project, planned.name)
    schedule_text = with_schedule_entry(schedule_file, planned.name, schedule)
    scaffold.write(planned)
    project.file.write_text(pyproject, encoding="utf-8")
    click.echo(f"registered {planned.name} in {shown(project.file)} {TABLE} collectors")
    schedule_file.write_text(schedule_text, encoding="utf-8")
    click.echo(
        f"scheduled {planned.name} {schedule}, enabled, in {shown(schedule_file)} "
        f"(group {planned.name}; change or disable it there)"
    )


@click.command("startcollector")
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="Print the planned files and the schedule snippet; write nothing.")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder in which the package folder NAME is created [default: the project root, else here].",
)
@click.option("--schedule", default=DEFAULT_SCHEDULE, show_default=True, help=SCHEDULE_HELP)
@click.pass_obj
def startcollector(state: CliState, name: str, dry_run: bool, directory: Path | None, schedule: str) -> None:
    """Create the collector package NAME: collector, params, service module, tests, schedule snippet.

    NAME is the collector's name and the package's: lower-case letters, digits and underscores.
    Existing files are never overwritten. Inside a project (`harvester init`) the package goes
    to the project root, its module into [tool.harvester] collectors, and an enabled entry at the
    end of the schedule file.
    """
    project = state.project
    try:
        taken = state.unchecked_app.registry.names()  # the registry only: no database is touched
        planned = scaffold.plan(name, directory or (project.root if project else Path()), taken)
        if project is not None:
            check_schedule_text(schedule)
        if not dry_run and project is not None:
            add_collector(project, state.settings.schedule_file, planned, schedule)
        elif not dry_run:
            scaffold.write(planned)
    except scaffold.ScaffoldError as exc:
        fail(EXIT_CONFIG, str(exc))
    console = state.console
    console.print(f"{'would create' if dry_run else 'created'} {escape(shown(planned.root))}/", highlight=False)
    for item in planned.files:
        console.print(f"  {escape(str(item.path.relative_to(planned.root)))}", highlight=False)
    if project is None or dry_run:
        click.echo(f"\n{scaffold.SNIPPET}:\n{planned.snippet}")
    if dry_run:
        console.print("dry run: nothing was written")
        return
    if project is not None:
        click.echo(f"next: python -m pytest {name}; harvester run {name}; or harvester up")
        return
    folder = planned.root.parent.resolve()
    console.print(
        "next: check it, register it and run it (or start from `harvester init`, which registers for you):\n"
        f"  python -m pytest {escape(str(planned.root))}\n"
        f"  export PYTHONPATH={escape(str(folder))} HARVESTER_COLLECTORS={name}\n"
        f"  harvester run {name}",
        highlight=False,
    )


COMMANDS = (startcollector,)
