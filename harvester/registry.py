"""Registry: finds Collector subclasses in configured modules and entry points, by name."""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points
from types import ModuleType

from harvester.backfill import partition_param
from harvester.collector import Collector
from harvester.errors import RegistryError
from harvester.ratelimit.limiter import declared_limits

ENTRY_POINT_GROUP = "harvester.collectors"


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class Registry:
    """Name -> collector class. Built once at start-up; duplicate names are an error."""

    def __init__(self, collectors: Iterable[type[Collector]] = ()) -> None:
        self._by_name: dict[str, type[Collector]] = {}
        for cls in collectors:
            self.add(cls)

    @classmethod
    def discover(cls, modules: Iterable[str], *, use_entry_points: bool = True) -> Registry:
        """Import ``modules`` (and the ``harvester.collectors`` entry points) and register their collectors."""
        registry = cls()
        for module_name in modules:
            registry.add_module(_import(module_name))
        if use_entry_points:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                try:
                    loaded = ep.load()
                except Exception as exc:
                    raise RegistryError(
                        f"cannot load entry point '{ep.name} = {ep.value}' ({ENTRY_POINT_GROUP}): "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                if inspect.ismodule(loaded):
                    registry.add_module(loaded)
                else:
                    registry.add(loaded)
        return registry

    def add_module(self, module: ModuleType) -> None:
        """Register every Collector subclass defined in ``module`` or listed in its ``__all__``,
        except those marked ``abstract = True``; one without ``name`` is an error, not skipped."""
        exported = set(getattr(module, "__all__", ()))
        for attr, obj in inspect.getmembers(module, inspect.isclass):
            own = obj.__module__ == module.__name__ or attr in exported
            if own and issubclass(obj, Collector) and not obj.abstract:
                self.add(obj)

    def add(self, cls: type[Collector]) -> None:
        if not (isinstance(cls, type) and issubclass(cls, Collector)):
            raise RegistryError(f"{cls!r} is not a Collector subclass")
        if cls.abstract:
            raise RegistryError(f"collector {_qualname(cls)} is marked `abstract = True`: register its subclasses")
        if not cls.name:
            raise RegistryError(
                f"collector class {cls.__qualname__} in module {cls.__module__} has no `name`: give it one "
                '(name = "..."), or mark a base class meant for sharing with `abstract = True`'
            )
        _check_state_key(cls)
        existing = self._by_name.get(cls.name)
        if existing is not None and existing is not cls:
            raise RegistryError(f"duplicate collector name '{cls.name}': {_qualname(existing)} and {_qualname(cls)}")
        partition_param(cls)  # a partition names a param harvester can step through
        self._check_rate_limits(cls)
        self._by_name[cls.name] = cls

    def _check_rate_limits(self, cls: type[Collector]) -> None:
        """A rate limit is shared by name: every collector that declares it must give the same rate."""
        mine = declared_limits(_qualname(cls), cls.rate_limits)
        for other in self._by_name.values():
            if other is cls:
                continue
            theirs = declared_limits(_qualname(other), other.rate_limits)
            for name in mine.keys() & theirs.keys():
                if mine[name] != theirs[name]:
                    raise RegistryError(
                        f"rate limit '{name}' is declared as {cls.rate_limits[name]!r} by {_qualname(cls)} and "
                        f"as {other.rate_limits[name]!r} by {_qualname(other)}: one shared limit has one rate"
                    )

    def get(self, name: str) -> type[Collector]:
        """The collector called ``name``; an unknown name suggests the closest known one."""
        try:
            return self._by_name[name]
        except KeyError:
            raise RegistryError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, list(self._by_name), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        known = ", ".join(sorted(self._by_name)) or "none registered"
        return f"unknown collector '{name}'{hint}; known: {known}"

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[type[Collector]]:
        return iter(sorted(self._by_name.values(), key=lambda c: c.name))

    def __len__(self) -> int:
        return len(self._by_name)

    def names(self) -> list[str]:
        return sorted(self._by_name)


def _check_state_key(cls: type[Collector]) -> None:
    """``state_key`` names params (not secret ones: their values never key anything)."""
    key = cls.state_key
    if key is None:
        return
    where = f"collector class {cls.__qualname__} in module {cls.__module__}"
    if isinstance(key, str) or not isinstance(key, tuple | list):
        raise RegistryError(f"{where}: state_key must be a tuple of param names, e.g. ('folder',), not {key!r}")
    fields, secret = cls.Params.model_fields, set(cls.secret_fields())
    for name in key:
        if name not in fields:
            known = ", ".join(sorted(fields)) or "none"
            raise RegistryError(f"{where}: state_key names '{name}', which is not one of its params ({known})")
        if name in secret:
            raise RegistryError(f"{where}: state_key names '{name}', a secret param; secrets never identify state")


def _import(module_name: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except Exception as exc:
        raise RegistryError(
            f"cannot import collector module '{module_name}' (from HARVESTER_COLLECTORS): {type(exc).__name__}: {exc}"
        ) from exc
