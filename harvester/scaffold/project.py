"""A project's files, written by ``harvester init`` and extended by ``startcollector``.

``init`` writes the ``[tool.harvester]`` table (into a new or an existing ``pyproject.toml``), an
empty schedule and a ``.gitignore``. Registering a collector edits two of them as text, so the
user's comments and layout survive: the module goes into the table's ``collectors`` list, its
entry at the end of the schedule's ``groups``. Each edit is read back before anything is written;
one that would not read back as intended is refused with what to add by hand.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harvester.project import DATA_DIR, PYPROJECT, TABLE, Project
from harvester.scaffold import ScaffoldError

SCHEDULE = "schedule.yaml"
GITIGNORE = ".gitignore"
#: How often a new collector's entry runs until its author says otherwise.
DEFAULT_SCHEDULE = "every 1m"

PROJECT_TABLE = f"""{TABLE}
# harvester's settings for this project (docs/settings.md). HARVESTER_* variables and .env override them.
collectors = []
schedule_file = "{SCHEDULE}"
data_dir = "{DATA_DIR}"
"""

EMPTY_SCHEDULE = """\
# What runs when (docs/schedule.md); `harvester schedule check` validates this file.
# `harvester startcollector NAME` appends an entry for each new collector.
timezone: UTC
groups:
"""

IGNORED = (f"/{DATA_DIR}/", ".env", "__pycache__/")


@dataclass(frozen=True)
class InitPlan:
    """What ``init`` writes into ``root``: nothing is written until :func:`write_project`."""

    root: Path
    pyproject: str  # the new content of pyproject.toml
    appended: bool  # True: the table is added to an existing pyproject.toml
    gitignore: str


def plan_project(root: Path) -> InitPlan:
    """Refuse a folder that already is a project or holds a schedule; else plan its files."""
    if root.exists() and not root.is_dir():
        raise ScaffoldError(f"{root} exists and is not a folder")
    pyproject = root / PYPROJECT
    existing = pyproject.read_text(encoding="utf-8") if pyproject.is_file() else ""
    try:
        tool = tomllib.loads(existing).get("tool", {})
    except tomllib.TOMLDecodeError as exc:
        raise ScaffoldError(f"{pyproject}: not valid TOML ({exc}); fix it, then run init again") from None
    if "harvester" in tool:
        raise ScaffoldError(f"{pyproject} already has a {TABLE} table: {root} is a harvester project already")
    if (root / SCHEDULE).exists():
        raise ScaffoldError(f"{root / SCHEDULE} already exists; init never overwrites (remove it or pick another DIR)")
    content = f"{existing.rstrip()}\n\n{PROJECT_TABLE}" if existing.strip() else PROJECT_TABLE
    ignore_file = root / GITIGNORE
    ignored = ignore_file.read_text(encoding="utf-8") if ignore_file.is_file() else ""
    missing = [line for line in IGNORED if line not in ignored.splitlines()]
    gitignore = ignored + ("\n" if ignored and not ignored.endswith("\n") else "") + "".join(f"{m}\n" for m in missing)
    return InitPlan(root, content, bool(existing.strip()), gitignore)


def write_project(planned: InitPlan) -> None:
    planned.root.mkdir(parents=True, exist_ok=True)
    with (planned.root / SCHEDULE).open("x", encoding="utf-8") as handle:
        handle.write(EMPTY_SCHEDULE)
    (planned.root / GITIGNORE).write_text(planned.gitignore, encoding="utf-8")
    (planned.root / PYPROJECT).write_text(planned.pyproject, encoding="utf-8")


def with_collector(project: Project, module: str) -> str:
    """The project file's text with ``module`` added to its ``collectors`` list (kept as written otherwise)."""
    text = project.file.read_text(encoding="utf-8")
    current = tomllib.loads(text)["tool"]["harvester"].get("collectors", [])
    if isinstance(current, str):
        current = [part.strip() for part in current.split(",") if part.strip()]
    if module in current:
        return text
    wanted = [*current, module]
    line = "collectors = [" + ", ".join(f'"{name}"' for name in wanted) + "]"
    edited = _replace_key(text, "collectors", line)
    if _loads(edited).get("tool", {}).get("harvester", {}).get("collectors") != wanted:
        raise ScaffoldError(f"could not add {module!r} to {project.where('collectors')}: add it by hand")
    return edited


def schedule_entry(name: str, schedule: str) -> str:
    """The entry startcollector appends: a group of its own, so it waits for no other collector."""
    return (
        f"  {name}:\n"
        "    tasks:\n"
        f"      - collector: {name}\n"
        f'        schedule: "{schedule}"\n'
        "        enabled: true\n"
        "        params: {source_key: default}\n"
    )


def with_schedule_entry(schedule_file: Path, name: str, schedule: str) -> str:
    """The schedule file's text with ``name``'s entry appended under ``groups`` (its last top-level key)."""
    text = schedule_file.read_text(encoding="utf-8") if schedule_file.exists() else EMPTY_SCHEDULE
    entry = schedule_entry(name, schedule)
    by_hand = f"add this under `groups:` of {schedule_file} by hand:\n{entry}"
    before = _load_yaml(text)
    groups = before.get("groups") if isinstance(before, dict) else None
    if isinstance(groups, dict) and name in groups:
        raise ScaffoldError(f"{schedule_file} already has a group {name!r}; {by_hand}")
    base = _groups_last(text)
    if base is None:
        raise ScaffoldError(f"{schedule_file}: `groups:` is not its last top-level key in block style; {by_hand}")
    indent = _group_indent(text) or "  "
    edited = base + "".join(indent + line[2:] + "\n" for line in entry.splitlines())
    after = _load_yaml(edited)
    tasks = (after.get("groups") or {}).get(name, {}).get("tasks") if isinstance(after, dict) else None
    if not tasks or tasks[-1].get("collector") != name:
        raise ScaffoldError(f"{schedule_file}: the entry would not read back; {by_hand}")
    return edited


def _loads(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}


def _load_yaml(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


_TOP_KEY = re.compile(r"^(?P<key>[A-Za-z_][\w-]*)\s*:(?P<rest>.*)$")


def _groups_last(text: str) -> str | None:
    """``text`` ending in a block-style ``groups:`` (``groups: {}`` becomes ``groups:``); None otherwise."""
    lines = text.rstrip("\n").split("\n")
    top = [i for i, line in enumerate(lines) if _TOP_KEY.match(line)]
    if not top:
        return None
    last = _TOP_KEY.match(lines[top[-1]])
    assert last is not None
    rest = last["rest"].split("#", 1)[0].strip()
    if last["key"] != "groups" or rest not in ("", "{}"):
        return None
    if rest == "{}":
        lines[top[-1]] = "groups:"
    return "\n".join(lines) + "\n"


def _group_indent(text: str) -> str | None:
    """The indentation of the existing group names (siblings in YAML must line up)."""
    inside = False
    for line in text.splitlines():
        if _TOP_KEY.match(line):
            inside = line.startswith("groups")
        elif inside and line.strip() and not line.lstrip().startswith("#"):
            return line[: len(line) - len(line.lstrip())]
    return None


def _replace_key(text: str, key: str, line: str) -> str:
    """``text`` with ``key = ...`` of the ``[tool.harvester]`` table replaced by ``line`` (or added)."""
    lines = text.split("\n")
    header = next(i for i, item in enumerate(lines) if item.strip().replace(" ", "") == TABLE)
    end = next(
        (i for i in range(header + 1, len(lines)) if lines[i].lstrip().startswith("[")),
        len(lines),
    )
    for start in range(header + 1, end):
        if re.match(rf"^\s*{re.escape(key)}\s*=", lines[start]):
            stop = start
            while _open_array(lines, start, stop):
                stop += 1
            return "\n".join([*lines[:start], line, *lines[stop + 1 :]])
    return "\n".join([*lines[: header + 1], line, *lines[header + 1 :]])


def _open_array(lines: list[str], start: int, stop: int) -> bool:
    """True while the array begun on ``lines[start]`` is not closed by ``lines[stop]``."""
    joined = "\n".join(lines[start : stop + 1])
    return joined.count("[") > joined.count("]") and stop + 1 < len(lines)
