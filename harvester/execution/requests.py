"""Building run requests and their history rows from a collector name, params or a schedule entry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from harvester.history.store import NewRun
from harvester.registry import Registry
from harvester.request import RunRequest, Trigger
from harvester.schedule.entries import ScheduleEntry
from harvester.schedule.freshness import entry_key


def make_request(
    registry: Registry,
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    trigger: Trigger = "cli",
    force: bool = False,
    parent_run_id: str | None = None,
) -> RunRequest:
    """Validate ``params`` against the collector's Params now, so bad input fails at the edge."""
    collector = registry.get(name)(**(params or {}))
    return RunRequest(
        collector=name, params=collector.wire_params(), trigger=trigger, force=force, parent_run_id=parent_run_id
    )


def new_run(registry: Registry, request: RunRequest) -> NewRun:
    """The history row of a request: params with secrets masked, and what it takes to send it again."""
    collector = registry.get(request.collector)(**request.params)
    return NewRun(
        run_id=request.run_id,
        collector=request.collector,
        params=collector.redacted_params(),
        params_key=collector.params_key(),
        trigger=request.trigger,
        parent_run_id=request.parent_run_id,
        task_id=request.run_id,
        queue=request.queue,
        overlap=request.overlap,
        force=request.force,
        schedule_group=request.schedule_group,
        entry_key=request.entry_key,
        batch_id=request.batch_id,
        expires_in=request.expires,
    )


def entry_requests(
    registry: Registry, entry: ScheduleEntry, batch_id: str | None = None, key: str | None = None
) -> list[RunRequest]:
    """The runs of one schedule entry: one, or one per target when its collector has ``targets()``.

    Each carries the entry (``key``: its :func:`~harvester.schedule.freshness.entry_key`, computed when
    not given), its group and ``batch_id``, the group batch it is part of."""
    targets = registry.get(entry.collector).targets()
    param_sets = [entry.params] if targets is None else [{**entry.params, **t.model_dump()} for t in targets]
    key = key if key is not None else entry_key(entry, registry)
    return [
        replace(
            make_request(registry, entry.collector, params, trigger="schedule"),
            queue=entry.queue,
            overlap=entry.overlap,
            schedule_group=entry.group,
            entry_key=key,
            batch_id=batch_id,
            expires=entry.expires.total_seconds() if entry.expires else None,
        )
        for params in param_sets
    ]
