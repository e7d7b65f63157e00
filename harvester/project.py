"""The project: the nearest folder, from the current one upwards, whose ``pyproject.toml`` has a
``[tool.harvester]`` table.

The table holds settings by their field names (``collectors``, ``schedule_file``, ``data_dir``, any
other :class:`~harvester.settings.Settings` field; ``schedule-file`` spelling works too). They rank
below environment variables and ``.env``, above the defaults. Paths are relative to the project
root, so every process started anywhere inside the project uses the same data folder and schedule.
``pyproject.toml`` and not a file of its own: a Python project already has one, and one file means
no question of which wins.
"""

from __future__ import annotations

import difflib
import re
import sys
import tomllib
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from harvester.errors import ConfigError

PYPROJECT = "pyproject.toml"
TABLE = "[tool.harvester]"
#: Settings whose values are paths: relative ones are taken from the project root.
PATH_KEYS = frozenset({"data_dir", "schedule_file"})
#: The data folder of a project that names none, under its root.
DATA_DIR = ".harvester"
#: Settings a committed file must not hold, and where they go instead.
REFUSED = {
    "api_token": "a token does not belong in a file you commit: set HARVESTER_API_TOKEN in the environment or .env",
}


class ProjectError(ConfigError):
    """The project's ``[tool.harvester]`` table is unusable; the message names the file, line and key."""


@dataclass(frozen=True)
class Project:
    """A found project: its root folder, its file, and its settings (paths made absolute)."""

    root: Path
    file: Path
    values: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.root.name

    def where(self, key: str) -> str:
        """``/x/pyproject.toml:7 [tool.harvester] collectors``: where a key is set, for messages."""
        line = self.lines.get(key)
        return f"{self.file}{f':{line}' if line else ''} {TABLE} {key}"


def find_project(start: Path, known: Collection[str]) -> Project | None:
    """The nearest project at or above ``start``; ``known`` are the setting names the table may hold.

    A ``pyproject.toml`` without the table is passed over (a parent folder may hold the project)."""
    for folder in _upwards(start.resolve()):
        candidate = folder / PYPROJECT
        if candidate.is_file():
            found = load_project(candidate, known)
            if found is not None:
                return found
    return None


def load_project(file: Path, known: Collection[str]) -> Project | None:
    """Read ``file``'s ``[tool.harvester]`` table; None when it has none."""
    text = _read(file)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError(f"{file}: not valid TOML: {exc}") from None
    table = document.get("tool", {}).get("harvester")
    if table is None:
        return None
    root = file.parent.resolve()
    if not isinstance(table, dict):
        raise ProjectError(f"{file}: {TABLE} must be a table of settings")
    lines = _key_lines(text)
    values: dict[str, Any] = {}
    for raw_key, value in table.items():
        key = raw_key.replace("-", "_")
        where = Project(root, file, lines=lines).where(raw_key)
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ProjectError(f"{where}: unknown setting{hint}; the settings are listed in docs/settings.md")
        if key in REFUSED:
            raise ProjectError(f"{where}: {REFUSED[key]}")
        if isinstance(value, dict):
            raise ProjectError(f"{where}: expected a value, got a table")
        values[key] = _path_value(root, where, value) if key in PATH_KEYS else value
        lines[key] = lines.get(raw_key, 0)
    values.setdefault("data_dir", root / DATA_DIR)  # one data folder, wherever in the project a process starts
    return Project(root, file, values, lines)


def use_root(project: Project | None) -> None:
    """Make the project's modules importable: its root goes first on ``sys.path`` (once)."""
    if project is not None and str(project.root) not in sys.path:
        sys.path.insert(0, str(project.root))


class ProjectSettingsSource(PydanticBaseSettingsSource):
    """The project's table as a pydantic-settings source (ranked below the environment and ``.env``)."""

    def __init__(self, settings_cls: type[BaseSettings], start: Path | None = None) -> None:
        super().__init__(settings_cls)
        self.project = find_project(start or Path.cwd(), settings_cls.model_fields)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        values = self.project.values if self.project else {}
        return values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.project.values) if self.project else {}


def _upwards(folder: Path) -> Iterator[Path]:
    yield folder
    yield from folder.parents


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"{file}: cannot be read: {exc}") from None


def _path_value(root: Path, where: str, value: object) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ProjectError(f"{where}: expected a path (a string, relative to {root}), got {value!r}")
    return root / Path(value).expanduser()


_HEADER = re.compile(r"^\s*\[(?P<name>[^\[\]]+)\]\s*(#.*)?$")
_KEY = re.compile(r"^\s*(?P<key>[A-Za-z0-9_-]+)\s*=")


def _key_lines(text: str) -> dict[str, int]:
    """Line numbers of the keys written directly under ``[tool.harvester]`` (for messages only)."""
    found: dict[str, int] = {}
    inside = False
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            inside = header["name"].replace(" ", "") == "tool.harvester"
            continue
        key = _KEY.match(line)
        if inside and key:
            found.setdefault(key["key"], number)
    return found
