"""``init`` makes a project folder harvester understands; ``info`` says what this folder uses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from pydantic import SecretStr
from rich.markup import escape
from rich.table import Table

from harvester import scaffold
from harvester.cli.context import CliState, fail
from harvester.cli.scaffold import add_collector, check_schedule_text, shown
from harvester.execution.runner import EXIT_CONFIG
from harvester.failure_text import MASK
from harvester.project import PYPROJECT, TABLE, load_project
from harvester.scaffold.project import DEFAULT_SCHEDULE, GITIGNORE, SCHEDULE, plan_project, write_project
from harvester.settings import Settings, setting_sources
from harvester.whereabouts import mask_url

URL_SETTINGS = ("database_url", "broker_url", "result_backend")


@click.command()
@click.argument("directory", type=click.Path(file_okay=True, path_type=Path), default=Path(), required=False)
@click.option("--collector", default="hello", show_default=True, help="Name of the first collector.")
@click.option("--schedule", default=DEFAULT_SCHEDULE, show_default=True, help="When the first collector runs.")
@click.pass_obj
def init(state: CliState, directory: Path, collector: str, schedule: str) -> None:
    """Make DIRECTORY (default: here) a harvester project: [tool.harvester] in pyproject.toml, an
    empty schedule.yaml, a .gitignore for the data folder, and a first collector, registered and
    scheduled. A folder that already is a project is refused."""
    root = directory.resolve()
    try:
        check_schedule_text(schedule)
        planned_project = plan_project(root)
        planned = scaffold.plan(collector, root)
        write_project(planned_project)
        project = load_project(root / PYPROJECT, Settings.model_fields)
        assert project is not None  # just written
        verb = "added" if planned_project.appended else "wrote"
        click.echo(
            f"{verb} {TABLE} in {shown(project.file)}; wrote {shown(root / SCHEDULE)}, {shown(root / GITIGNORE)}"
        )
        add_collector(project, project.values["schedule_file"], planned, schedule)
    except scaffold.ScaffoldError as exc:
        fail(EXIT_CONFIG, str(exc))
    click.echo(f"created {shown(planned.root)}/ (its collector.py is yours to edit)")
    where = "" if root == Path.cwd().resolve() else f"cd {directory} && "
    click.echo(f"next: {where}harvester up   (dashboard on http://127.0.0.1:8000/)")


def shown_value(name: str, value: object) -> Any:
    """A setting's value as ``info`` prints it: secrets and passwords masked, paths as text."""
    if isinstance(value, SecretStr):
        return MASK
    if name in URL_SETTINGS and isinstance(value, str):
        return mask_url(value)
    if isinstance(value, Path):
        return str(value)
    return value


def describe(state: CliState) -> dict[str, Any]:
    """What ``info`` reports; reads no database, connects to nothing."""
    settings = state.settings
    hv = state.unchecked_app
    project = state.project
    sources = setting_sources()
    return {
        "project": {"root": str(project.root), "file": str(project.file)} if project else None,
        "database": mask_url(settings.effective_database_url),
        "broker": "embedded" if settings.embedded else mask_url(settings.effective_broker_url),
        "result_backend": mask_url(settings.effective_result_backend),
        "data_dir": str(settings.data_dir.resolve()),
        "schedule_file": str(settings.schedule_file.resolve()),
        "collectors": [{"name": cls.name, "class": f"{cls.__module__}.{cls.__qualname__}"} for cls in hv.registry],
        "settings": {
            name: {"value": shown_value(name, getattr(settings, name)), "source": sources[name]}
            for name in Settings.model_fields
        },
    }


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (nothing else on stdout).")
@click.pass_obj
def info(state: CliState, as_json: bool) -> None:
    """Which project, settings (and where each comes from), database, broker, data folder and collectors
    this folder uses. Connects to nothing."""
    report = describe(state)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    console = state.console
    project = report["project"]
    lines = [
        (
            "project",
            f"{project['root']} ({Path(project['file']).name})" if project else f"none ({TABLE} not found upwards)",
        ),
        ("database", report["database"]),
        ("broker", report["broker"]),
        ("data folder", report["data_dir"]),
        ("schedule", report["schedule_file"]),
        ("collectors", ", ".join(c["name"] for c in report["collectors"]) or "none"),
    ]
    for label, value in lines:
        click.echo(f"{label:<12} {value}")
    table = Table("setting", "value", "from", title="settings", title_justify="left")
    for name, item in report["settings"].items():
        table.add_row(name, escape(json.dumps(item["value"])), item["source"])
    console.print(table)


COMMANDS = (init, info)
