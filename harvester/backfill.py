"""Backfill partitions: which param of a collector is its partition, and its values from A to B.

A collector names one of its params in ``partition``; the param's type says how harvester
enumerates it (both bounds included, so ``--from 2026-01-01 --to 2026-01-31`` is 31 days):

- ``datetime.date``: days; step ``1d`` (default), ``7d``, ``2w``. Calendar days, so no DST gap.
- :class:`Month` (``YYYY-MM``) or a plain ``str`` holding months: step ``1mo`` (default), ``3mo``.
- ``int``: step ``1`` (default) or any positive whole number.
- anything else: the collector's classmethod ``partitions(start, end, step)`` lists the values.

Pure functions of their arguments; the CLI drives the runs (``harvester backfill``).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import GetCoreSchemaHandler, TypeAdapter, ValidationError
from pydantic_core import core_schema

from harvester.collector import Collector
from harvester.errors import ConfigError, RegistryError
from harvester.fields import strip_optional

#: Prefix of the batch id (``runs.batch_id``) of a backfill's runs; a schedule group's have none.
BATCH_PREFIX = "backfill:"
#: More partitions than this in one backfill is most likely a typo in a bound or the step.
MAX_PARTITIONS = 10_000
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"

Kind = Literal["date", "month", "int", "custom"]
_STEP = re.compile(r"^\s*(\d+)\s*(d|w|mo)?\s*$")


class PartitionError(ConfigError):
    """A backfill's bounds or step do not fit its partition param; the message says how to fix it."""


class Month(str):
    """A month as ``YYYY-MM`` (e.g. ``2026-03``): a params type that backfills one month at a time.

    Validated by pydantic (the JSON schema carries the pattern); a plain ``str`` otherwise."""

    __slots__ = ()

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(cls, core_schema.str_schema(pattern=MONTH_PATTERN))


@dataclass(frozen=True)
class PartitionParam:
    """The partition param of a collector and how its values are enumerated."""

    name: str
    kind: Kind
    annotation: Any

    @property
    def default_step(self) -> str | None:
        return {"date": "1d", "month": "1mo", "int": "1"}.get(self.kind)


def partition_param(cls: type[Collector]) -> PartitionParam | None:
    """The collector's partition param (None when it declares none); RegistryError naming the
    class when ``partition`` names no param or one whose values harvester cannot enumerate."""
    name = cls.partition
    if name is None:
        return None
    where = f"{cls.__module__}.{cls.__qualname__}"
    fields = cls.Params.model_fields
    if not isinstance(name, str) or name not in fields:
        known = ", ".join(sorted(fields)) or "none"
        raise RegistryError(f"{where}.partition = {name!r} names no param of its Params (params: {known})")
    annotation = strip_optional(fields[name].annotation)
    if getattr(cls.partitions, "__func__", None) is not getattr(Collector.partitions, "__func__", None):
        return PartitionParam(name, "custom", annotation)
    kind = _kind(annotation)
    if kind is None:
        type_name = getattr(annotation, "__name__", str(annotation))
        raise RegistryError(
            f"{where}.partition = {name!r} is a {type_name} param: harvester enumerates date, int and month "
            f"(harvester.backfill.Month or str as YYYY-MM) params; for other values define the classmethod "
            f"partitions(start, end, step)"
        )
    return PartitionParam(name, kind, annotation)


def _kind(annotation: Any) -> Kind | None:
    if annotation is date:  # not datetime, a subclass of date: an hour is no day
        return "date"
    if isinstance(annotation, type) and issubclass(annotation, str):
        return "month"
    if annotation is int:
        return "int"
    return None


def partition_values(cls: type[Collector], start: str, end: str, step: str | None = None) -> list[Any]:
    """The values of ``cls``'s partition param from ``start`` to ``end``, both included, in order."""
    param = partition_param(cls)
    if param is None:
        raise PartitionError(
            f"collector '{cls.name}' declares no partition param: set e.g. partition = \"day\" on "
            f"{cls.__qualname__} to name the param a backfill steps through"
        )
    low, high = (_bound(param, label, text) for label, text in (("--from", start), ("--to", end)))
    if _before(high, low):
        raise PartitionError(f"--to {end} is before --from {start}")
    if param.kind == "custom":
        values = list(cls.partitions(low, high, step) or [])
    else:
        values = enumerate_partitions(param.kind, low, high, step or param.default_step or "")
    _check_count(len(values), start, end)
    return values


def _before(high: Any, low: Any) -> bool:
    try:
        return bool(high < low)
    except TypeError:  # values a collector's partitions() orders in its own way
        return False


def _bound(param: PartitionParam, label: str, text: str) -> Any:
    if param.kind == "month":
        return _month(label, text)
    try:
        return TypeAdapter(param.annotation).validate_python(text)
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"]
        raise PartitionError(f"{label} {text!r} is no value of partition param '{param.name}': {problem}") from None


def enumerate_partitions(kind: Kind, low: Any, high: Any, step: str) -> list[Any]:
    """``low``..``high`` inclusive by ``step`` for the kinds harvester knows (date, month, int)."""
    count, unit = parse_step(step, kind)
    if kind == "date":
        days = count * (7 if unit == "w" else 1)
        steps = range(0, (high - low).days + 1, days)
        _check_count(len(steps), low, high)
        return [low + timedelta(days=n) for n in steps]
    if kind == "month":
        months = range(_month_index(low), _month_index(high) + 1, count)
        _check_count(len(months), low, high)
        return [Month(f"{n // 12:04d}-{n % 12 + 1:02d}") for n in months]
    numbers = range(low, high + 1, count)
    _check_count(len(numbers), low, high)
    return list(numbers)


def _check_count(count: int, low: Any, high: Any) -> None:
    if count > MAX_PARTITIONS:
        raise PartitionError(f"{count} partitions from {low} to {high}: more than {MAX_PARTITIONS}")


def parse_step(step: str, kind: Kind) -> tuple[int, str]:
    """``7d`` -> (7, "d"); PartitionError saying which steps fit ``kind`` for anything else."""
    fits = {"date": ("d", "w"), "month": ("mo",), "int": ("",)}[kind] if kind != "custom" else ()
    example = {"date": "1d, 7d or 2w", "month": "1mo or 3mo", "int": "1 or 10"}.get(kind, "")
    match = _STEP.match(step)
    if match is None or int(match[1]) < 1 or (match[2] or "") not in fits:
        raise PartitionError(f"step {step!r} does not fit a {kind} partition: give a positive step like {example}")
    return int(match[1]), match[2] or ""


def _month(label: str, text: str) -> Month:
    if not re.match(MONTH_PATTERN, text.strip()):
        raise PartitionError(f"{label} {text!r} is no month: give it as YYYY-MM, e.g. 2026-03")
    return Month(text.strip())


def _month_index(month: str) -> int:
    year, number = month.split("-")
    return int(year) * 12 + int(number) - 1


def partition_label(value: Any) -> str:
    """A partition value as people read it (and as ``--from``/``--to`` take it)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def backfill_id(collector: str, params: dict[str, Any], start: str, end: str, step: str | None) -> str:
    """The batch id of a backfill: the same command (collector, other params, bounds, step) gets
    the same id, so a resumed backfill stays one group of runs."""
    what = {"collector": collector, "params": params, "from": start, "to": end, "step": step}
    digest = hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()
    return BATCH_PREFIX + digest[:24]
