"""``when: package.module:function`` predicates, checked at the due time."""

from __future__ import annotations

import importlib

from harvester.schedule.entries import ScheduleEntry


def should_run(entry: ScheduleEntry) -> tuple[bool, str]:
    """(run it?, why not). An entry without ``when`` always runs; a predicate that fails says so."""
    if entry.when is None:
        return True, ""
    module_name, _, function_name = entry.when.partition(":")
    try:
        predicate = getattr(importlib.import_module(module_name), function_name)
        verdict = bool(predicate())
    except Exception as exc:
        return False, f"when predicate {entry.when} failed: {type(exc).__name__}: {exc}"
    return verdict, "" if verdict else f"when predicate {entry.when} returned false"
