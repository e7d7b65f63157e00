"""The page of one backfill: its runs as one group (one per partition), with counts by status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from harvester.app import Harvester
from harvester.backfill import BATCH_PREFIX, partition_param
from harvester.dashboard.routes import render
from harvester.errors import RegistryError
from harvester.history.backfills import batch_counts, batch_runs
from harvester.history.states import FINISHED, SUCCEEDED

#: Runs shown on the page (a backfill has at most harvester.backfill.MAX_PARTITIONS partitions).
PAGE_RUNS = 10_000


def _partition_name(hv: Harvester, collector: str) -> str | None:
    try:
        param = partition_param(hv.registry.get(collector))
    except RegistryError:  # a collector no longer registered: its runs are still shown
        return None
    return param.name if param is not None else None


def backfill_context(hv: Harvester, batch_id: str) -> dict[str, Any] | None:
    """What the page shows; None when no run carries ``batch_id``."""
    runs = batch_runs(hv.store, batch_id, limit=PAGE_RUNS)
    if not runs:
        return None
    collector = runs[0]["collector"]
    name = _partition_name(hv, collector)
    rows: list[dict[str, Any]] = [
        {"partition": str(r["params"].get(name, "-")) if name else "-", "run": r} for r in runs
    ]
    rows.sort(key=lambda row: (row["partition"], row["run"]["queued_at"]))
    counts = batch_counts(hv.store, batch_id)
    ended = sum(n for status, n in counts.items() if status in FINISHED)
    return {
        "nav": "runs",
        "batch_id": batch_id,
        "collector": collector,
        "partition_name": name,
        "rows": rows,
        "counts": counts,
        "partitions": len({row["partition"] for row in rows}),
        "succeeded": counts.get(SUCCEEDED, 0),
        "failed": ended - counts.get(SUCCEEDED, 0),
        "not_ended": sum(counts.values()) - ended,
        "finished": ended == sum(counts.values()),
    }


def router(hv: Harvester) -> APIRouter:
    routes = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    def page(request: Request, batch_id: str, template: str) -> Response:
        context = backfill_context(hv, batch_id) if batch_id.startswith(BATCH_PREFIX) else None
        if context is None:
            message = f"There is no backfill {batch_id[:100]!r} in the history."
            return render(
                request, "message.html", {"nav": "runs", "title": "Backfill not found", "message": message}, 404
            )
        return render(request, template, context)

    @routes.get("/backfills/{batch_id}", name="dashboard_backfill")
    def backfill_page(request: Request, batch_id: str) -> Response:
        return page(request, batch_id, "backfill.html")

    @routes.get("/fragments/backfills/{batch_id}", name="dashboard_backfill_fragment")
    def backfill_fragment(request: Request, batch_id: str) -> Response:
        return page(request, batch_id, "_backfill_live.html")

    return routes
