"""create_app: the FastAPI application of one Harvester (JSON API, /health, /metrics, the dashboard)."""

from __future__ import annotations

from fastapi import FastAPI

from harvester.api import (
    errors,
    health,
    login,
    metrics,
    openapi,
    routes_collect,
    routes_collectors,
    routes_records,
    routes_runs,
)
from harvester.api.access import AccessControl
from harvester.api.limits import MAX_BODY_BYTES, BodySizeLimit
from harvester.api.security import Credentials
from harvester.app import Harvester
from harvester.dashboard import mount

DESCRIPTION = """\
Trigger collectors, follow their runs, read run history; `/health` and `/metrics` for operations.

When `HARVESTER_API_TOKEN` is set, every route but the public ones (`/health`, `/metrics` by default)
needs `Authorization: Bearer <token>` (or the dashboard's login session). Without a token, only
requests to a loopback `Host` name (or one of `HARVESTER_API_ALLOWED_HOSTS`) are answered.
Bodies over 1 MiB are refused (413). Secret params are masked in every answer.
"""


def create_app(hv: Harvester) -> FastAPI:
    """The API of ``hv``; routes close over it, so two apps in one process stay apart (tests)."""
    from importlib.metadata import version

    app = FastAPI(title="harvester", version=version("harvester"), description=DESCRIPTION)
    app.state.harvester = hv
    settings = hv.settings
    token = settings.api_token
    credentials = Credentials(token, settings.api_session_hours * 3600) if token is not None else None
    hv.celery  # noqa: B018 - built here once, not raced by the health checks' threads
    url = hv.store.engine.url
    where = f"{url.get_backend_name()} at {url.host}:{url.port or ''}" if url.host else url.get_backend_name()
    errors.install(app, database=f"the history database ({where})", broker="the broker")
    for router in (
        routes_collect.router(hv),
        routes_collectors.router(hv),
        routes_runs.router(hv),
        routes_records.router(hv),
        health.router(hv),
        metrics.router(hv),
        login.router(credentials),
    ):
        app.include_router(router)
    openapi.install(app, hv)
    mount(app, hv)  # the dashboard at / (its pages stay out of the OpenAPI schema)
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    # Last added runs first: a request is checked before its body is read, and every answer,
    # a 413 too, carries the security headers.
    app.add_middleware(
        AccessControl,
        credentials=credentials,
        public_paths=settings.api_public_paths,
        allowed_hosts=settings.api_allowed_hosts,
    )
    return app
