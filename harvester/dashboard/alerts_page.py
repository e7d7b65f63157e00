"""The Alerts page: recent incidents (open first) and every delivery with its attempts."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from harvester.app import Harvester
from harvester.dashboard.routes import render
from harvester.history.alerts import AlertStore

#: Incidents and deliveries the page shows (the newest).
PAGE_INCIDENTS = 50
PAGE_DELIVERIES = 100


def alerts_context(hv: Harvester) -> dict[str, Any]:
    store = AlertStore(hv.store)
    incidents = store.incidents(PAGE_INCIDENTS)
    deliveries = store.deliveries(PAGE_DELIVERIES)
    attempts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for attempt in store.attempts([d["id"] for d in deliveries]):
        attempts[attempt["delivery_id"]].append(attempt)
    return {
        "nav": "alerts",
        "open_incidents": [i for i in incidents if i["resolved_at"] is None],
        "incidents": incidents,
        "deliveries": [{**d, "tries": attempts.get(d["id"], [])} for d in deliveries],
        "targets": sorted(hv.settings.alert_targets),
    }


def router(hv: Harvester) -> APIRouter:
    routes = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    @routes.get("/alerts", name="dashboard_alerts")
    def alerts(request: Request) -> Response:
        return render(request, "alerts.html", alerts_context(hv))

    return routes
