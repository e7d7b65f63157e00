"""``GET /health``: 200 when harvester can do its job, 503 when it cannot.

Each check runs in a thread of its own, all at once, each bounded by ``HARVESTER_HEALTH_TIMEOUT``
(default 2 s), so a dead broker costs one timeout, not a hang. An error is a fixed code, never an
exception's text (which can carry URLs with passwords):

- ``database``: ``SELECT 1`` on the history database; ``unreachable`` | ``timeout``.
- ``broker``: one connection to the broker, no retries; ``unreachable`` | ``timeout``.
- ``workers``: a Celery ping answered by at least one worker; ``no_workers`` | ``unreachable`` | ``timeout``.
  No worker answering is unhealthy: nothing scheduled or triggered would run.
- ``schedule``: the schedule file loads; ``invalid`` (strict mode with problems, or unreadable). A
  missing file is fine (nothing is scheduled); non-strict problems are listed but do not fail it.
- ``freshness``: per enabled entry, its last success and whether it is stale (or never ran). Part of
  the verdict only when ``HARVESTER_HEALTH_ENFORCE_FRESHNESS=true``.
- ``collectors``, only with ``?checks=collectors``: each probe (``Collector.check()``) with its
  stored result, made again when older than ``HARVESTER_CHECK_TTL`` (:mod:`harvester.api.health_probes`);
  ``probe_failed`` when any failed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

import anyio
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from harvester.api.broker import probe_connection
from harvester.api.health_probes import ProbeCache
from harvester.api.models import Check, Health
from harvester.api.overview import entry_views, read_schedule
from harvester.app import Harvester
from harvester.history.queries import ping

#: Share of the health timeout a worker ping waits for replies (the rest is for connecting).
PING_SHARE = 0.5


class CheckFailed(Exception):
    """A check's verdict: ``code`` is the fixed error string reported."""

    def __init__(self, code: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.details = details or {}


def _database(hv: Harvester) -> dict[str, Any]:
    ping(hv.store)
    return {}


def _broker(hv: Harvester) -> dict[str, Any]:
    with probe_connection(hv, hv.settings.health_timeout):
        return {}


def _workers(hv: Harvester) -> dict[str, Any]:
    timeout = hv.settings.health_timeout
    with probe_connection(hv, timeout) as conn:
        replies = hv.celery.control.ping(timeout=timeout * PING_SHARE, limit=1, connection=conn)
    if not replies:
        raise CheckFailed("no_workers")
    return {"answering": [name for reply in replies for name in reply]}


def _schedule(hv: Harvester) -> dict[str, Any]:
    loaded = read_schedule(hv)
    if loaded.error == "missing":
        return {"present": False, "entries": 0, "problems": []}
    if loaded.schedule is None:
        raise CheckFailed("invalid")
    problems = [{"line": p.line, "message": p.message} for p in loaded.schedule.problems]
    if problems and hv.settings.schedule_strict:
        raise CheckFailed("invalid")
    return {"present": True, "entries": len(loaded.schedule.enabled), "problems": problems}


def _freshness(hv: Harvester) -> dict[str, Any]:
    loaded = read_schedule(hv).schedule
    if loaded is None:
        return {}
    return {
        view.name: {
            "last_success_at": view.fresh.last_success_at,
            "stale": view.fresh.stale,
            "status": view.fresh.status,
        }
        for view in entry_views(hv, loaded, datetime.now(UTC))
    }


async def _bounded(check: Callable[[Harvester], dict[str, Any]], hv: Harvester) -> tuple[Check, dict[str, Any]]:
    """Run ``check`` in a thread within the timeout; any failure becomes a fixed code.

    The thread comes from the pool FastAPI uses (40 threads, not asyncio's few), and a check that
    overruns is abandoned rather than awaited (its own socket timeouts end it soon after)."""
    started = time.perf_counter()
    try:
        with anyio.fail_after(hv.settings.health_timeout):
            details = await anyio.to_thread.run_sync(check, hv, abandon_on_cancel=True)
        error = None
    except TimeoutError:
        details, error = {}, "timeout"
    except CheckFailed as exc:
        details, error = exc.details, exc.code
    except Exception:
        details, error = {}, "unreachable"
    latency = round((time.perf_counter() - started) * 1000, 1)
    return Check(ok=error is None, latency_ms=latency, error=error, details=details), details


def _collectors(probes: ProbeCache) -> dict[str, Any]:
    ok, details = probes.report()
    if not ok:
        raise CheckFailed("probe_failed", details)
    return details


async def health_report(hv: Harvester, probes: ProbeCache | None = None) -> Health:
    """Every check at once; with ``probes``, the collectors' probes too (part of the verdict)."""
    names = ("database", "broker", "workers", "schedule")
    collectors = [_bounded(lambda _: _collectors(probes), hv)] if probes is not None else []
    results = await asyncio.gather(
        *(_bounded(check, hv) for check in (_database, _broker, _workers, _schedule, _freshness)), *collectors
    )
    checks: dict[str, Any] = {name: check for name, (check, _) in zip(names, results, strict=False)}
    if probes is not None:
        checks["collectors"] = results[-1][0]
    freshness_check, freshness = results[len(names)]
    checks["freshness"] = freshness if freshness_check.ok else {}
    healthy = all(checks[name].ok for name in (*names, *(["collectors"] if probes is not None else [])))
    if hv.settings.health_enforce_freshness:
        healthy = healthy and freshness_check.ok and not any(f["stale"] for f in freshness.values())
    return Health.model_validate({"status": "healthy" if healthy else "unhealthy", "checks": checks})


def router(hv: Harvester) -> APIRouter:
    api = APIRouter(tags=["operations"])
    probes = ProbeCache(hv)

    @api.get(
        "/health",
        response_model=Health,
        responses={503: {"model": Health, "description": "Unhealthy: a failed check (or a stale entry, if enforced)."}},
        summary="Health of database, broker, workers, schedule and freshness (and collector probes)",
    )
    async def health(
        checks: Literal["collectors"] | None = Query(
            None, description="`collectors`: include the collectors' probes (check()), cached for HARVESTER_CHECK_TTL."
        ),
    ) -> JSONResponse:
        report = await health_report(hv, probes if checks == "collectors" else None)
        body = report.model_dump(mode="json")
        if body["checks"].get("collectors") is None:
            body["checks"].pop("collectors", None)
        return JSONResponse(body, status_code=200 if report.status == "healthy" else 503)

    return api
