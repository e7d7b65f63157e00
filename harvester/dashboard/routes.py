"""The dashboard's routes: three server-rendered pages, the fragments their script re-fetches every
few seconds (the same templates, so a live update can never drift from a reload), static files."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from harvester.app import Harvester
from harvester.dashboard import forms
from harvester.dashboard.filters import FILTERS
from harvester.dashboard.logs import latest_logs
from harvester.dashboard.overview import build_overview
from harvester.history.engine import utcnow
from harvester.history.queries import CursorError, page_records, page_runs
from harvester.history.states import CANCEL
from harvester.history.states import STATUSES as RUN_STATUSES
from harvester.history.stats import count_runs
from harvester.history.store import FINISHED

HERE = Path(__file__).parent
STATUSES = RUN_STATUSES
#: Runs per page of the run list, and on the overview.
PAGE_SIZE = 50
OVERVIEW_RUNS = 10
#: Records per page of a collector's records.
RECORDS_PAGE_SIZE = 25
#: The statuses a run can be cancelled from: its page has a Cancel button.
CANCELLABLE = tuple(s.value for s in CANCEL.sources)
#: The API routes the trigger buttons and the logout button post to (served by harvester.api).
TRIGGER_PATH = "/api/v1/collect/trigger"
LOGOUT_PATH = "/logout"
CANCEL_PATH = "/api/v1/runs/{run_id}/cancel"
#: Where the API's access control leaves the CSRF token of a logged-in session, for the pages.
CSRF_SCOPE_KEY = "harvester.csrf_token"


@cache
def _templates() -> Jinja2Templates:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined)
    env.filters.update(FILTERS)
    return Jinja2Templates(env=env)


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    """A page of the dashboard (the API's login page uses it too), never cached."""
    root = request.scope.get("root_path", "")

    def href(route: str, query: dict[str, Any] | None = None, **params: Any) -> str:
        path = root + str(request.app.url_path_for(route, **params))
        kept = {k: v for k, v in (query or {}).items() if v not in (None, "")}
        return f"{path}?{urlencode(kept)}" if kept else path

    context = {
        **context,
        "now": utcnow(),
        "href": href,
        "trigger_url": root + TRIGGER_PATH,
        "logout_url": root + LOGOUT_PATH,
        "csrf_token": request.scope.get(CSRF_SCOPE_KEY, ""),
    }
    response = _templates().TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


class _Pages:
    """Renders the pages of one Harvester; every view is sync, so FastAPI runs its reads in a thread."""

    def __init__(self, hv: Harvester) -> None:
        self.hv = hv

    # -- views: (request, template) -> response; the page and its fragment share one -------------

    def overview(self, request: Request, template: str) -> Response:
        context = {
            "nav": "collectors",
            "overview": build_overview(self.hv, utcnow()),
            "runs": self.hv.store.list_runs(limit=OVERVIEW_RUNS),
        }
        return render(request, template, context)

    def run_list(
        self, request: Request, template: str, collector: str | None, status: str | None, before: str | None
    ) -> Response:
        """Runs older than the cursor ``before`` (keyset: a page stays put while new runs arrive)."""
        if status and status not in STATUSES:
            return self.bad_filter(request, f"Unknown status {status!r}: expected one of {', '.join(STATUSES)}.")
        store, collector, status = self.hv.store, collector or None, status or None
        try:
            page = page_runs(store, collector=collector, status=status, cursor=before or None, limit=PAGE_SIZE)
        except CursorError:
            return self.bad_filter(request, "This page link is broken or out of date: start from the newest runs.")
        context = {
            "nav": "runs",
            "runs": page.rows,
            "total": count_runs(store, collector=collector, status=status),
            "cursor": before or "",
            "next_cursor": page.next_cursor,
            "filters": {"collector": collector or "", "status": status or ""},
            "collectors": [cls.name for cls in self.hv.registry],
            "statuses": STATUSES,
        }
        return render(request, template, context)

    def run_detail(self, request: Request, template: str, run_id: str) -> Response:
        run = self.hv.store.get_run(run_id)
        if run is None:
            message = f"There is no run {run_id!r} in the history."
            return render(request, "message.html", {"nav": "runs", "title": "Run not found", "message": message}, 404)
        context = {
            "nav": "runs",
            "run": run,
            "finished": run["status"] in FINISHED,
            "attempts": self.hv.store.attempts(run_id),
            "children": self.hv.store.members(run_id),
            "logs": latest_logs(self.hv.store, run_id),
            "cancellable": CANCELLABLE,
            "cancel_url": request.scope.get("root_path", "") + CANCEL_PATH.format(run_id=quote(run_id, safe="")),
        }
        return render(request, template, context)

    def records(self, request: Request, name: str, key: str, before: str) -> Response:
        """A collector's records, last changed first, ``RECORDS_PAGE_SIZE`` at a time (keyset cursor
        ``before``); ``key`` keeps those whose key starts with it."""
        if name not in [cls.name for cls in self.hv.registry]:
            message = f"There is no collector {name!r}: the registered ones are on the Collectors page."
            missing = {"nav": "collectors", "title": "Collector not found", "message": message}
            return render(request, "message.html", missing, 404)
        try:
            page = page_records(self.hv.store, name, key=key or None, cursor=before or None, limit=RECORDS_PAGE_SIZE)
        except CursorError:
            return self.bad_filter(request, "This page link is broken or out of date: start from the newest records.")
        context: dict[str, Any] = {
            "nav": "collectors",
            "collector": name,
            "records": page.rows,
            "key": key,
            "cursor": before,
            "next_cursor": page.next_cursor,
        }
        return render(request, "records.html", context)

    def bad_filter(self, request: Request, message: str) -> Response:
        return render(request, "message.html", {"nav": "runs", "title": "Bad filter", "message": message}, 400)


def router(hv: Harvester) -> APIRouter:
    """The dashboard's pages (left out of the OpenAPI schema: they are HTML for people)."""
    pages = _Pages(hv)
    routes = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    @routes.get("/", name="dashboard_overview")
    def overview(request: Request) -> Response:
        return pages.overview(request, "overview.html")

    @routes.get("/fragments/overview", name="dashboard_overview_fragment")
    def overview_fragment(request: Request) -> Response:
        return pages.overview(request, "_overview_live.html")

    @routes.get("/runs", name="dashboard_runs")
    def run_list(request: Request, collector: str = "", status: str = "", before: str = "") -> Response:
        return pages.run_list(request, "runs.html", collector, status, before)

    @routes.get("/fragments/runs", name="dashboard_runs_fragment")
    def run_list_fragment(request: Request, collector: str = "", status: str = "", before: str = "") -> Response:
        return pages.run_list(request, "_runs_live.html", collector, status, before)

    @routes.get("/runs/{run_id}", name="dashboard_run")
    def run_detail(request: Request, run_id: str) -> Response:
        return pages.run_detail(request, "run.html", run_id)

    @routes.get("/fragments/runs/{run_id}", name="dashboard_run_fragment")
    def run_detail_fragment(request: Request, run_id: str) -> Response:
        return pages.run_detail(request, "_run_live.html", run_id)

    @routes.get("/collectors/{name}/records", name="dashboard_records")
    def records(request: Request, name: str, key: str = "", before: str = "") -> Response:
        return pages.records(request, name, key, before)

    return routes


def mount(app: FastAPI, hv: Harvester) -> None:
    """Serve the dashboard at ``/`` and its CSS and script at ``/static`` of ``app``."""
    from harvester.dashboard import alerts_page, backfill_page, collector_page  # they render with render()

    app.include_router(router(hv))
    app.include_router(forms.router(hv, render))
    app.include_router(collector_page.router(hv))
    app.include_router(backfill_page.router(hv))
    app.include_router(alerts_page.router(hv))
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
