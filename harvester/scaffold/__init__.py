"""startcollector: a ready collector package rendered from the file templates in ``templates/``.

The package passes its own tests, ruff and ``mypy --strict`` as generated, so a team's first
edit starts from green. Nothing is ever overwritten: the target folder must not exist, and
each file is created exclusively.
"""

from __future__ import annotations

import importlib.util
import keyword
import re
import sys
from collections.abc import Collection
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template

from harvester.errors import ConfigError

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
#: Longest collector name startcollector writes (a package, a class and file names are made of it).
MAX_NAME_LENGTH = 60
RESERVED = frozenset({"harvester", "test", "tests", "settings", "config"})
TEMPLATES = "templates/collector"
SNIPPET = "schedule_snippet.yaml"


class ScaffoldError(ConfigError):
    """startcollector refuses a name or a target; the message says why and what to do instead."""


@dataclass(frozen=True)
class PlannedFile:
    path: Path
    content: str


@dataclass(frozen=True)
class Plan:
    """The files startcollector would write: nothing touches the disk until :func:`write`."""

    name: str
    class_name: str
    root: Path
    files: tuple[PlannedFile, ...]

    @property
    def snippet(self) -> str:
        return next(f.content for f in self.files if f.path.name == SNIPPET)


def class_name(name: str) -> str:
    """``heartbeat_demo`` -> ``HeartbeatDemoCollector``."""
    return "".join(part.capitalize() for part in name.split("_")) + "Collector"


def check_name(name: str, taken: Collection[str] = ()) -> None:
    """Refuse a name that is no valid, unambiguous package and collector name."""
    if len(name) > MAX_NAME_LENGTH:
        raise ScaffoldError(
            f"invalid collector name {name[:20]!r}... ({len(name)} characters): at most {MAX_NAME_LENGTH}"
        )
    if not NAME_PATTERN.match(name):
        raise ScaffoldError(
            f"invalid collector name {name!r}: use lower-case letters, digits and underscores, "
            "starting with a letter (e.g. heartbeat_demo)"
        )
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise ScaffoldError(f"invalid collector name {name!r}: it is a Python keyword; try {name}_collector")
    if name in RESERVED:
        raise ScaffoldError(
            f"invalid collector name {name!r}: reserved ({', '.join(sorted(RESERVED))}); try {name}_collector"
        )
    if name in taken:
        raise ScaffoldError(f"a collector named {name!r} is already registered; choose another name")
    if name in sys.stdlib_module_names or importlib.util.find_spec(name) is not None:
        raise ScaffoldError(
            f"invalid collector name {name!r}: a module of that name is already importable, "
            "and the new package would shadow it; choose another name"
        )


def plan(name: str, directory: Path, taken: Collection[str] = ()) -> Plan:
    """Check ``name`` and the target ``directory/name``, then render every template."""
    check_name(name, taken)
    root = directory / name
    if root.exists() or root.is_symlink():
        raise ScaffoldError(f"{root} already exists; startcollector never overwrites (remove it or use --dir)")
    if directory.exists() and not directory.is_dir():
        raise ScaffoldError(f"--dir {directory} is not a folder")
    values = {"name": name, "class_name": class_name(name)}
    rendered = tuple(
        PlannedFile(root / relative, Template(template.read_text(encoding="utf-8")).substitute(values))
        for relative, template in _templates(files("harvester.scaffold").joinpath(TEMPLATES), Path())
    )
    return Plan(name=name, class_name=values["class_name"], root=root, files=rendered)


def write(planned: Plan) -> list[Path]:
    """Create the planned files; a file that appeared meanwhile is left alone and reported."""
    written = []
    for item in planned.files:
        item.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with item.path.open("x", encoding="utf-8") as handle:
                handle.write(item.content)
        except FileExistsError:
            raise ScaffoldError(f"{item.path} already exists; startcollector never overwrites") from None
        written.append(item.path)
    return written


def _templates(folder: Traversable, relative: Path) -> list[tuple[Path, Traversable]]:
    """``(target path, template)`` of every ``*.tmpl`` under ``folder``, sorted by target path."""
    found: list[tuple[Path, Traversable]] = []
    for entry in folder.iterdir():
        if entry.is_dir():
            found.extend(_templates(entry, relative / entry.name))
        elif entry.name.endswith(".tmpl"):
            found.append((relative / entry.name.removesuffix(".tmpl"), entry))
    return sorted(found, key=lambda pair: (len(pair[0].parts), str(pair[0])))
