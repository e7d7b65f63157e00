"""load_schedule: the YAML schedule file -> Schedule, with the line of every problem.

Parsed with PyYAML's node API (``yaml.compose``), so each value keeps the line it came from.
Problems are collected, not raised one at a time: a bad task is skipped (and reported); a problem
in a group's header (``default_time``, an unknown key) skips that group's tasks; a bad
``timezone`` skips every task. Strict loading raises :class:`ScheduleError` listing them all.
"""

from __future__ import annotations

import copy
import difflib
import json
from dataclasses import dataclass, field
from datetime import time, timedelta
from os import PathLike
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import yaml
from pydantic import ValidationError

from harvester.collector import Collector, validate_params
from harvester.errors import ConfigError, ParamsError, RegistryError
from harvester.failure_text import MASK
from harvester.registry import Registry
from harvester.schedule.args import parse_cli_args
from harvester.schedule.entries import (
    WALL_CLOCK_KINDS,
    Schedule,
    ScheduleEntry,
    ScheduleError,
    ScheduleProblem,
    ScheduleSpec,
    did_you_mean,
    parse_alerts,
    parse_check,
    parse_duration,
    parse_expires,
    parse_minutes,
    parse_monthday,
    parse_overlap,
    parse_predicate,
    parse_schedule,
    parse_time,
    parse_weekday,
)
from harvester.schedule.timing import derived_expiry, derived_freshness
from harvester.secret_refs import SYNTAX

TOP_KEYS = ("timezone", "groups")
GROUP_KEYS = ("default_time", "tasks", "check", "alerts")
TASK_KEYS = (
    "collector",
    "command",
    "schedule",
    "at",
    "on",
    "day_of_week",
    "day_of_month",
    "minutes",
    "enabled",
    "params",
    "args",
    "when",
    "freshness",
    "queue",
    "overlap",
    "expires",
    "check",
    "alerts",
)
UTC_ZONE = ZoneInfo("UTC")


def load_schedule(path: str | PathLike[str], registry: Registry, *, strict: bool = True) -> Schedule:
    """Read and check the schedule file at ``path``.

    Strict: any problem raises :class:`ScheduleError` (one ``FILE:LINE: message`` per line).
    Not strict: bad entries are left out and listed in ``Schedule.problems``.
    An unreadable file raises ``ConfigError`` either way.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read schedule file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    schedule = parse_schedule_text(text, registry, path=str(path))
    if strict and schedule.problems:
        raise ScheduleError(schedule.problems)
    return schedule


def parse_schedule_text(text: str, registry: Registry, *, path: str = "schedule.yaml") -> Schedule:
    """The schedule in ``text`` (never raises; problems name ``path``)."""
    reader = _Reader(path, registry)
    try:
        root = yaml.compose(text, Loader=_AliasLineLoader)
    except yaml.YAMLError as exc:
        reader.yaml_problem(exc)
        return reader.result(UTC_ZONE)
    if root is None:
        return reader.result(UTC_ZONE)
    return reader.document(root)


class _AliasLineLoader(yaml.SafeLoader):
    """SafeLoader whose aliases (``*name``) are copies of the anchored node that carry the alias's own
    line, so a task repeated with an alias is reported (and recognised as a duplicate) where it is."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if not self.check_event(yaml.AliasEvent):
            return super().compose_node(parent, index)
        mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
        node = copy.copy(super().compose_node(parent, index))
        if node is not None:
            node.start_mark = node.end_mark = mark
        return node


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"'{node.value}'"


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _text(node: yaml.Node) -> str:
    """A scalar as written (so ``at: 02:30`` unquoted stays ``02:30``, not YAML 1.1's base-60 ``150``)."""
    if not isinstance(node, yaml.ScalarNode):
        raise ValueError(f"expected a single value, got {_kind(node)}")
    return str(node.value)


def _construct(node: yaml.Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise ValueError(f"invalid YAML: {getattr(exc, 'problem', None) or exc}") from None
    finally:
        loader.dispose()


@dataclass
class _Map:
    """A YAML mapping's known keys: value nodes and key nodes (for lines)."""

    node: yaml.Node
    values: dict[str, yaml.Node] = field(default_factory=dict)
    keys: dict[str, yaml.Node] = field(default_factory=dict)

    def line(self, key: str) -> int:
        return _line(self.keys[key]) if key in self.keys else _line(self.node)


@dataclass(frozen=True)
class _Group:
    name: str
    default_time: time | None
    usable: bool
    check: timedelta | None = None
    alerts: tuple[str, ...] | None = None


class _Reader:
    """Walks the node tree once, collecting entries and problems."""

    def __init__(self, path: str, registry: Registry) -> None:
        self.path = path
        self.registry = registry
        self.problems: list[ScheduleProblem] = []
        self.entries: list[ScheduleEntry] = []
        self.seen: dict[tuple[str, str, str, str], int] = {}

    # -- problems --------------------------------------------------------------------------

    def problem(self, where: yaml.Node | int, message: str) -> None:
        line = where if isinstance(where, int) else _line(where)
        self.problems.append(ScheduleProblem(self.path, line, message))

    def yaml_problem(self, exc: yaml.YAMLError) -> None:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        detail = getattr(exc, "problem", None) or str(exc)
        if any(word in str(getattr(exc, "context", "")) for word in ("alias", "anchor")):
            detail += ' (quote a value that starts with * or &, e.g. "*/5 * * * *")'
        self.problem(int(mark.line) + 1 if mark is not None else 1, f"invalid YAML: {detail}")

    def value(self, fields: _Map, key: str, parse: Any) -> Any:
        """``parse(node)`` of ``key`` if present; a ``ValueError`` becomes a problem at the value's line."""
        node = fields.values.get(key)
        if node is None:
            return None
        try:
            return parse(node)
        except ValueError as exc:
            self.problem(node, str(exc))
            return None

    def result(self, timezone: ZoneInfo) -> Schedule:
        return Schedule(timezone, tuple(self.entries), tuple(sorted(self.problems, key=lambda p: p.line)))

    # -- structure -------------------------------------------------------------------------

    def mapping(self, node: yaml.Node, where: str, allowed: tuple[str, ...] | None) -> _Map | None:
        """Check that ``node`` is a mapping without duplicate or (if ``allowed``) unknown keys."""
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"{where} must be a mapping, got {_kind(node)}")
            return None
        fields = _Map(node)
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else _kind(key_node)
            if key in fields.keys:
                self.problem(key_node, f"duplicate key '{key}' in {where} (first at line {fields.line(key)})")
            elif allowed is not None and key not in allowed:
                hint = did_you_mean(key, allowed) or f"; expected one of: {', '.join(allowed)}"
                self.problem(key_node, f"unknown key '{key}' in {where}{hint}")
            else:
                fields.keys[key] = key_node
                if not _is_null(value_node):
                    fields.values[key] = value_node
        return fields

    def document(self, root: yaml.Node) -> Schedule:
        fields = self.mapping(root, "the schedule file", TOP_KEYS)
        if fields is None:
            return self.result(UTC_ZONE)
        timezone = self.value(fields, "timezone", _timezone)
        bad_zone = "timezone" in fields.values and timezone is None
        groups = fields.values.get("groups")
        if groups is not None:
            self.groups(groups, usable=not bad_zone)
        return self.result(timezone or UTC_ZONE)

    def groups(self, node: yaml.Node, *, usable: bool) -> None:
        groups = self.mapping(node, "`groups`", None)
        if groups is None:
            return
        for name, group_node in groups.values.items():
            if not name.strip() or _is_null(groups.keys[name]):
                self.problem(groups.keys[name], "a group needs a name (e.g. `github:`), got an empty one")
                continue
            self.group(name, group_node, usable=usable)

    def group(self, name: str, node: yaml.Node, *, usable: bool) -> None:
        where = f"group '{name}'"
        before = len(self.problems)
        fields = self.mapping(node, where, GROUP_KEYS)
        if fields is None:
            return
        default_time = self.value(fields, "default_time", lambda n: parse_time(_text(n), "default_time"))
        check = self.value(fields, "check", lambda n: parse_check(_text(n)))
        alerts = self.value(fields, "alerts", lambda n: parse_alerts(_construct(n)))
        group = _Group(name, default_time, usable and len(self.problems) == before, check, alerts=alerts)
        tasks = fields.values.get("tasks")
        if "tasks" not in fields.keys:
            self.problem(node, f"{where} needs `tasks:` (a list of tasks)")
        elif isinstance(tasks, yaml.SequenceNode):
            for index, task_node in enumerate(tasks.value):
                self.task(group, index, task_node)
        elif tasks is not None:
            self.problem(tasks, f"`tasks` of {where} must be a list, got {_kind(tasks)}")

    # -- one task --------------------------------------------------------------------------

    def task(self, group: _Group, index: int, node: yaml.Node) -> None:
        before = len(self.problems)
        fields = self.mapping(node, "a task", TASK_KEYS)
        if fields is None:
            return
        cls = self.collector(fields)
        spec = self.spec(fields)
        at = self.at(fields, spec, group)
        params = self.params(fields, cls)
        enabled = self.value(fields, "enabled", _enabled)
        when = self.value(fields, "when", lambda n: parse_predicate(_text(n)))
        freshness = self.value(fields, "freshness", lambda n: parse_duration(_text(n)))
        queue = self.value(fields, "queue", _queue)
        overlap = self.value(fields, "overlap", lambda n: parse_overlap(_text(n)))
        alerts = self.value(fields, "alerts", lambda n: parse_alerts(_construct(n)))
        expires = self.value(fields, "expires", lambda n: parse_expires(_text(n)))
        check = self.value(fields, "check", lambda n: parse_check(_text(n)))
        if len(self.problems) > before or cls is None or spec is None or params is None:
            return
        entry = ScheduleEntry(
            group=group.name,
            index=index,
            collector=cls.name,
            spec=spec,
            at=at,
            enabled=True if enabled is None else enabled,
            params=params,
            when=when,
            freshness=freshness or derived_freshness(spec),
            queue=queue,
            overlap=overlap,
            line=_line(node),
            alerts=group.alerts if alerts is None else alerts,
            expires=derived_expiry(spec) if expires is None else (expires or None),
            check=check or group.check,
        )
        if self.unique(entry, cls) and group.usable:
            self.entries.append(entry)

    def collector(self, fields: _Map) -> type[Collector] | None:
        name = self.value(fields, "collector", _text)
        command = self.value(fields, "command", lambda n: _command(n, self.registry))
        if "collector" in fields.values and "command" in fields.values:
            self.problem(fields.keys["command"], "give either `collector` or `command`, not both")
            return None
        if name is None and command is None:
            if not any(key in fields.values for key in ("collector", "command")):
                self.problem(fields.node, "task needs `collector: NAME` (or the seed form `command: run_NAME`)")
            return None
        node = fields.values["collector" if name is not None else "command"]
        try:
            return self.registry.get(name or command)
        except RegistryError as exc:
            self.problem(node, str(exc))
            return None

    def spec(self, fields: _Map) -> ScheduleSpec | None:
        spec: ScheduleSpec | None = self.value(fields, "schedule", lambda n: parse_schedule(_text(n)))
        if "schedule" not in fields.values:
            self.problem(fields.node, "task needs `schedule` (" + _FORMS + ")")
        for key, kinds in _USES.items():
            applies = spec is None or (spec.kind in kinds and spec.every is None)
            if key in fields.values and not applies:
                self.problem(fields.keys[key], _NOT_APPLICABLE[key])
        if spec is None:
            return None
        return self.spec_details(fields, spec)

    def spec_details(self, fields: _Map, spec: ScheduleSpec) -> ScheduleSpec | None:
        """Fill in the day (weekly, monthly: ``on`` or its other spelling) and ``minutes`` (interval)."""
        keys = _DETAIL_KEYS.get(spec.kind)
        if keys is None or spec.every is not None:
            return spec
        given = [key for key in keys if key in fields.values]
        if not given:
            if not any(key in fields.values for key in _USES):  # else the misplaced key was named already
                self.problem(fields.values["schedule"], _MISSING[spec.kind])
            return None
        if len(given) > 1:
            self.problem(fields.keys[given[1]], f"give either `{given[0]}` or `{given[1]}`, not both")
            return None
        key = given[0]
        parsers: dict[str, Any] = {"weekly": parse_weekday, "monthly": parse_monthday, "interval": parse_minutes}
        detail = self.value(fields, key, lambda n: parsers[spec.kind](_construct(n), key))
        if detail is None:
            return None
        field_name = {"weekly": "weekday", "monthly": "monthday", "interval": "every"}[spec.kind]
        return ScheduleSpec(kind=spec.kind, **{field_name: detail})

    def at(self, fields: _Map, spec: ScheduleSpec | None, group: _Group) -> time | None:
        at: time | None = self.value(fields, "at", lambda n: parse_time(_text(n), "at"))
        if spec is None or spec.kind not in WALL_CLOCK_KINDS:
            if "at" in fields.values and spec is not None:
                self.problem(fields.keys["at"], "`at` applies only to daily, weekly and monthly schedules")
            return None
        return at or group.default_time or time(0)

    def params(self, fields: _Map, cls: type[Collector] | None) -> dict[str, Any] | None:
        if "params" in fields.values and "args" in fields.values:
            self.problem(fields.keys["args"], "give either `params` or `args`, not both")
            return None
        if "args" in fields.values:
            node = fields.values["args"]
            raw = self.value(fields, "args", lambda n: parse_cli_args(cls, _args(n)) if cls else {})
        else:
            node = fields.values.get("params", fields.node)
            raw = self.value(fields, "params", _params) if "params" in fields.values else {}
        if raw is None or cls is None:
            return None
        try:
            validate_params(cls, raw)
        except ParamsError as exc:
            self.problem(_field_line(cls, raw, node), str(exc))
            return None
        literal = [name for name, value in cls.masked_params(raw).items() if value == MASK]
        if literal:
            self.problem(
                _key_line(node, literal[0]),
                f"param '{literal[0]}' of collector '{cls.name}' is a secret: write a reference ({SYNTAX}) "
                "instead of its value, which would be kept in this file and shown by every listing",
            )
            return None
        return dict(raw)

    def unique(self, entry: ScheduleEntry, cls: type[Collector]) -> bool:
        """One group may run a collector with the same params on several schedules, not twice on one."""
        canonical = cls.Params.model_validate(entry.params).model_dump(mode="json")
        key = (entry.group, entry.collector, json.dumps(canonical, sort_keys=True, default=str), entry.schedule_text)
        first = self.seen.setdefault(key, entry.line)
        if first != entry.line:
            self.problem(
                entry.line,
                f"duplicate entry: collector '{entry.collector}' with the same params and schedule "
                f"({entry.schedule_text}) is already in group '{entry.group}' (line {first})",
            )
            return False
        return True


_FORMS = "hourly, daily, weekly, monthly, interval, every <N>s|m|h|d or a 5-field cron expression"
_USES = {
    "on": ("weekly", "monthly"),
    "day_of_week": ("weekly",),
    "day_of_month": ("monthly",),
    "minutes": ("interval",),
}
_DETAIL_KEYS = {"weekly": ("on", "day_of_week"), "monthly": ("on", "day_of_month"), "interval": ("minutes",)}
_NOT_APPLICABLE = {
    "on": "`on` applies only to weekly and monthly schedules",
    "day_of_week": "`day_of_week` applies only to weekly schedules (a monthly one takes `day_of_month`)",
    "day_of_month": "`day_of_month` applies only to monthly schedules (a weekly one takes `day_of_week`)",
    "minutes": "`minutes` applies only to `schedule: interval` (or write `every 15m`)",
}
_MISSING = {
    "weekly": "weekly schedule needs `on: WEEKDAY` (monday..sunday; or `day_of_week: WEEKDAY`)",
    "monthly": "monthly schedule needs `on: DAY` (1..31, or `day_of_month: DAY`; a day past the month's end "
    "means its last day)",
    "interval": "interval schedule needs `minutes: 1..1440`",
}


def _timezone(node: yaml.Node) -> ZoneInfo:
    name = _text(node).strip()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        hint = did_you_mean(name, sorted(available_timezones()))
        raise ValueError(f"unknown time zone '{name}'{hint}; expected an IANA name like Europe/Berlin") from None


def _command(node: yaml.Node, registry: Registry) -> str:
    text = _text(node).strip()
    if not text.startswith("run_") or text == "run_":
        names = registry.names()
        close = [text] if text in names else difflib.get_close_matches(text, names, n=1)
        fix = f"`collector: {close[0]}`" if close else "`collector: NAME`"
        raise ValueError(f"bad command '{text}': a command is run_<collector>; to name the collector, write {fix}")
    return text.removeprefix("run_")


def _enabled(node: yaml.Node) -> bool:
    value = _construct(node)
    if not isinstance(value, bool):
        raise ValueError(f"`enabled` must be true or false, got {_kind(node)}")
    return value


def _queue(node: yaml.Node) -> str:
    text = _text(node).strip()
    if not text:
        raise ValueError("`queue` must be a queue name")
    return text


def _params(node: yaml.Node) -> dict[str, Any]:
    if not isinstance(node, yaml.MappingNode):
        raise ValueError(f"`params` must be a mapping (field: value), got {_kind(node)}")
    value = _construct(node)
    if not all(isinstance(key, str) for key in value):
        raise ValueError("`params` keys must be field names")
    return dict(value)


def _args(node: yaml.Node) -> list[str]:
    value = _construct(node) if isinstance(node, yaml.SequenceNode) else None
    if not isinstance(value, list) or not all(isinstance(item, str | int | float) for item in value):
        raise ValueError(f'`args` must be a list of strings like ["--repo", "owner/name"], got {_kind(node)}')
    return [str(item) for item in value]


def _key_line(node: yaml.Node, key: str) -> int:
    """The line of ``key`` inside a ``params`` mapping, else the line of ``node``."""
    if isinstance(node, yaml.MappingNode):
        for k, _ in node.value:
            if isinstance(k, yaml.ScalarNode) and str(k.value) == key:
                return _line(k)
    return _line(node)


def _field_line(cls: type[Collector], raw: dict[str, Any], node: yaml.Node) -> int:
    """The line of the first bad field inside a ``params`` mapping, else the line of ``node``."""
    lines = {}
    if isinstance(node, yaml.MappingNode):
        lines = {str(key.value): _line(key) for key, _ in node.value if isinstance(key, yaml.ScalarNode)}
    model = cls.Params
    accepted = set(model.model_fields) | {f.alias for f in model.model_fields.values() if f.alias}
    unknown = [key for key in raw if key not in accepted]
    if unknown and model.model_config.get("extra") != "allow":
        return lines.get(unknown[0], _line(node))
    try:
        model.model_validate(raw)
    except ValidationError as exc:
        loc = exc.errors()[0]["loc"]
        return lines.get(str(loc[0]), _line(node)) if loc else _line(node)
    return _line(node)
