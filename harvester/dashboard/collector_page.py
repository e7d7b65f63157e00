"""The page of one collector: what it is, its schedule entries, and how its runs went over time."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from harvester.app import Harvester
from harvester.dashboard.overview import build_overview
from harvester.dashboard.routes import render
from harvester.dashboard.trends import DAYS, HEIGHT, RUNS, build_trends
from harvester.history.engine import utcnow


def router(hv: Harvester) -> APIRouter:
    routes = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    @routes.get("/collectors/{name}", name="dashboard_collector")
    def collector_page(request: Request, name: str) -> Response:
        if name not in hv.registry:
            message = f"There is no collector {name[:200]!r}: the collectors page lists those registered."
            return render(
                request, "message.html", {"nav": "collectors", "title": "Collector not found", "message": message}, 404
            )
        now = utcnow()
        overview = build_overview(hv, now)
        view = next(c for c in overview.collectors if c.name == name)
        context = {
            "nav": "collectors",
            "collector": view,
            "cls": hv.registry.get(name),
            "trends": build_trends(hv.store, name, now),
            "chart": {"height": HEIGHT, "runs": RUNS, "days": DAYS},
        }
        return render(request, "collector.html", context)

    return routes
