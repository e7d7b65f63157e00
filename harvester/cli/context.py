"""CliState: the lazily built app shared by the commands of one invocation."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import NoReturn

import click
from pydantic import ValidationError

from harvester import logs
from harvester.app import Harvester
from harvester.cli.output import make_console
from harvester.errors import ConfigError, HarvesterError
from harvester.project import Project, find_project
from harvester.settings import Settings, setting_sources


class CliState:
    def __init__(self) -> None:
        self.console = make_console()
        self.err = make_console(stderr=True)

    @cached_property
    def settings(self) -> Settings:
        try:
            settings = Settings()
        except ValidationError as exc:
            problems = "; ".join(f"{self.where(str(err['loc'][0]))}: {err['msg']}" for err in exc.errors())
            fail(2, f"invalid setting: {problems}")
        logs.configure(settings.log_format, settings.log_level)
        if self.project is not None:  # which project this command uses, so two folders never mix silently
            click.echo(f"project {self.project.root} ({self.project.file.name})", err=True)
        return settings

    @cached_property
    def project(self) -> Project | None:
        """The project found from the current folder upwards (:mod:`harvester.project`)."""
        return find_project(Path.cwd(), Settings.model_fields)

    def where(self, setting: str) -> str:
        """Where ``setting`` was set, for an error message: the project file's key or the variable."""
        if self.project is not None and setting_sources().get(setting) == "project":
            return self.project.where(setting)
        return f"HARVESTER_{setting.upper()}"

    @cached_property
    def unchecked_app(self) -> Harvester:
        """The app without the schema check (for ``db upgrade`` itself)."""
        try:
            return Harvester(self.settings)
        except HarvesterError as exc:
            fail(2, str(exc))

    @cached_property
    def app(self) -> Harvester:
        hv = self.unchecked_app
        ensure_schema(hv)
        return hv

    def close(self) -> None:
        if "unchecked_app" in self.__dict__:
            self.unchecked_app.close()


def ensure_schema(hv: Harvester) -> None:
    """The embedded SQLite database migrates itself; a server database must be migrated on purpose."""
    from harvester.history.migrate import current, head

    found, wanted = current(hv.store.engine), head()
    if found == wanted:
        return
    if hv.settings.database_url is None:
        hv.store.upgrade()
        return
    if found != wanted:
        raise click.ClickException(
            f"database schema is at {found or 'nothing'}, this harvester needs {wanted}: run `harvester db upgrade`"
        )


def fail(code: int, message: str = "") -> NoReturn:
    """Leave with ``code`` after printing ``message`` (if any) to stderr."""
    if message:
        click.echo(f"error: {message}", err=True)
    raise click.exceptions.Exit(code)


def check_schedule(state: CliState) -> None:
    """A process that would run the schedule refuses to start on a schedule file named but missing,
    and in strict mode on a bad file."""
    from harvester.schedule.loader import load_schedule

    settings = state.settings
    if "schedule_file" in settings.model_fields_set and not settings.schedule_file.exists():
        fail(2, f"{state.where('schedule_file')} names {settings.schedule_file}, which does not exist; nothing started")
    if not settings.schedule_strict or not settings.schedule_file.exists():
        return
    try:
        load_schedule(settings.schedule_file, state.unchecked_app.registry, strict=True)
    except ConfigError as exc:
        fail(2, f"the schedule file has problems; nothing started:\n{exc}")
