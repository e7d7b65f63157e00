"""``GET /api/v1/collectors``: every registered collector with its params schema, schedule and last run;
``GET /api/v1/groups``: each group of the schedule file with its last batch."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from harvester.api.models import CollectorOut, GroupOut
from harvester.api.overview import entry_views, read_schedule
from harvester.app import Harvester
from harvester.schedule.groups import group_names, group_views


def router(hv: Harvester) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["collectors"])

    @api.get("/collectors", response_model=list[CollectorOut], summary="Registered collectors")
    def collectors() -> Any:
        """Each collector: description, params JSON schema, its enabled schedule entries (next run,
        freshness) and its newest run."""
        now = datetime.now(UTC)
        loaded = read_schedule(hv).schedule
        views = entry_views(hv, loaded, now) if loaded is not None else []
        last = hv.store.last_runs()
        out = []
        for cls in hv.registry:
            run = last.get(cls.name)
            out.append(
                {
                    "name": cls.name,
                    "description": cls.description,
                    "queue": cls.queue or "harvester",
                    "overlap": cls.overlap,
                    "params_schema": cls.params_schema(),
                    "secret_params": cls.secret_fields(),
                    "schedule": [v.as_dict() for v in views if v.fresh.entry.collector == cls.name],
                    "last_run": None if run is None else {**run, "run_id": run["id"]},
                }
            )
        return out

    @api.get("/groups", response_model=list[GroupOut], summary="Schedule groups and their last batch")
    def groups() -> Any:
        """Each group of the schedule file with an enabled entry, in file order, and its last batch: when
        it started and ended and how many of its runs succeeded, failed or have not ended. Empty when
        the schedule file is missing or cannot be read."""
        loaded = read_schedule(hv).schedule
        if loaded is None:
            return []
        return [g.as_dict() for g in group_views(loaded, hv.store.last_batches(group_names(loaded)))]

    return api
