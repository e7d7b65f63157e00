"""``GET /api/v1/runs`` (filters, keyset pages), ``GET /api/v1/runs/{run_id}``, its ``/logs``, and
``POST /api/v1/runs/{run_id}/cancel``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query

from harvester.api.models import CancelAnswer, ErrorBody, RunDetail, RunLogs, RunsPage, RunStatus
from harvester.api.rows import run_out
from harvester.app import Harvester
from harvester.history.queries import CursorError, page_runs
from harvester.history.states import FINISHED


def router(hv: Harvester) -> APIRouter:
    api = APIRouter(prefix="/api/v1/runs", tags=["runs"])

    @api.get(
        "",
        response_model=RunsPage,
        responses={422: {"description": "A filter or the cursor is invalid."}},
        summary="Run history, newest first",
    )
    def list_runs(
        collector: Annotated[str | None, Query(description="Only runs of this collector.")] = None,
        status: Annotated[RunStatus | None, Query(description="Only runs in this state.")] = None,
        since: Annotated[
            str | None,
            Query(
                description="Only runs queued at or after this time (ISO 8601; UTC if no zone).",
                json_schema_extra={"format": "date-time"},
                examples=["2026-01-05T00:00:00Z"],
            ),
        ] = None,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
        limit: Annotated[int, Query(ge=1, le=500, description="Runs per page.")] = 50,
        batch: Annotated[
            str | None,
            Query(
                max_length=64,
                description="Only the runs of this batch: a backfill (backfill:...) or a schedule group's batch.",
            ),
        ] = None,
    ) -> Any:
        try:
            page = page_runs(
                hv.store,
                collector=collector,
                status=status,
                since=_moment(since),
                cursor=cursor,
                limit=limit,
                batch=batch,
            )
        except CursorError as exc:
            raise HTTPException(422, [{"loc": ["query", "cursor"], "msg": str(exc), "type": "cursor"}]) from None
        return {"items": [run_out(r) for r in page.rows], "next_cursor": page.next_cursor}

    @api.get(
        "/{run_id}",
        response_model=RunDetail,
        responses={404: {"model": ErrorBody, "description": "No run with this id."}},
        summary="One run with its attempts and children",
    )
    def get_run(run_id: Annotated[str, Path(description="run_id (= task_id).")]) -> Any:
        row = hv.store.get_run(run_id)
        if row is None:
            raise HTTPException(404, f"no run {run_id!r}")
        return {
            **run_out(row),
            "attempts": hv.store.attempts(run_id),
            "children": [m["id"] for m in hv.store.members(run_id)],
        }

    @api.get(
        "/{run_id}/logs",
        response_model=RunLogs,
        responses={404: {"model": ErrorBody, "description": "No run with this id."}},
        summary="What a run logged, oldest first (poll with after= to follow it)",
    )
    def get_run_logs(
        run_id: Annotated[str, Path(description="run_id (= task_id).")],
        after: Annotated[int, Query(ge=0, le=2**62, description="Only lines after this id (next_after).")] = 0,
        attempt: Annotated[int | None, Query(ge=1, le=2**31, description="Only this attempt's lines.")] = None,
        limit: Annotated[int, Query(ge=1, le=5000, description="Lines per answer.")] = 1000,
    ) -> Any:
        row = hv.store.get_run(run_id)  # before the lines: a run seen finished has no line to come
        if row is None:
            raise HTTPException(404, f"no run {run_id!r}")
        lines = hv.store.run_logs(run_id, after=after, limit=limit)
        return {
            "run_id": run_id,
            "status": row["status"],
            "finished": row["status"] in FINISHED and len(lines) < limit,
            "items": [line for line in lines if attempt is None or line["attempt"] == attempt],
            "next_after": lines[-1]["id"] if lines else after,
        }

    @api.post(
        "/{run_id}/cancel",
        response_model=CancelAnswer,
        responses={
            404: {"model": ErrorBody, "description": "No run with this id."},
            409: {"model": ErrorBody, "description": "The run had ended already."},
        },
        summary="Cancel a run: a due one never starts, a running one is stopped on its worker",
    )
    def cancel_run(run_id: Annotated[str, Path(description="run_id (= task_id).")]) -> Any:
        cancelled = hv.cancel(run_id)
        if cancelled.was is None:
            raise HTTPException(404, f"no run {run_id!r}")
        if not cancelled.recorded:
            raise HTTPException(409, f"run {run_id} has ended: it is {cancelled.was}")
        return {"run_id": run_id, "status": "cancelled", "was": cancelled.was, "cancelled": list(cancelled.stop)}

    return api


def _moment(text: str | None) -> datetime | None:
    """An ISO 8601 time; only that (pydantic would also take 0.5 as a Unix time)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        problem = {"loc": ["query", "since"], "msg": "since must be an ISO 8601 time", "type": "datetime"}
        raise HTTPException(422, [problem]) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
