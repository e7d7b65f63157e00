"""``POST /api/v1/collect/trigger`` and ``GET /api/v1/collect/status/{task_id}``."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from harvester.api.errors import params_problems, validation_problems
from harvester.api.models import Accepted, ErrorBody, Status, TriggerBody, TriggeredRun, ValidationErrorBody
from harvester.api.rows import run_out
from harvester.api.submitter import Submitter
from harvester.app import Harvester
from harvester.errors import ParamsError
from harvester.execution.dispatcher import DispatchError
from harvester.history.engine import utcnow
from harvester.history.store import FINISHED
from harvester.request import RunRequest
from harvester.schedule.entries import expiry_seconds
from harvester.whereabouts import NO_CONSUMER_AFTER, no_consumer

log = logging.getLogger(__name__)

#: Seconds between history polls of a synchronous trigger.
POLL_INTERVAL = 0.1
STATUS_PATH = "/api/v1/collect/status/{task_id}"


def router(hv: Harvester) -> APIRouter:
    api = APIRouter(prefix="/api/v1/collect", tags=["collect"])
    submitter = Submitter(hv.submit)

    @api.post(
        "/trigger",
        status_code=202,
        response_model=Accepted,
        responses={
            200: {"model": TriggeredRun, "description": "Synchronous trigger (async_mode=false): the finished run."},
            404: {"model": ErrorBody, "description": "No collector of that name."},
            413: {"model": ErrorBody, "description": "Body over 1 MiB."},
            422: {"model": ValidationErrorBody, "description": "Malformed JSON or invalid params (names the field)."},
        },
        summary="Run a collector on the workers",
    )
    async def trigger(body: TriggerBody) -> Any:
        """Record the run as queued and send it to the workers.

        `async_mode=true` answers 202 at once. `async_mode=false` waits for the run and answers 200
        with the finished run; if it outlives HARVESTER_API_SYNC_TIMEOUT, 202 with the run id, and
        the run goes on. A run still queued after a few seconds while no worker consumes its queue
        answers 202 at once, its message saying so and how to start one.
        """
        request = _request(hv, body)
        accepted_at = utcnow()
        try:
            await submitter.submit(request)  # with the triggers arriving meanwhile: one transaction
        except DispatchError as exc:  # recorded: recovery sends it once the broker is back
            log.warning("run %s recorded but not sent: %s", request.run_id, exc)
            unsent = (
                f"Collection task recorded for {request.collector}; "
                "the broker did not take it, it is sent once the broker is back"
            )
            return _accepted(hv, request, body, unsent, accepted_at)
        if body.async_mode:
            return _accepted(hv, request, body, f"Collection task queued for {request.collector}", accepted_at)
        timeout = hv.settings.api_sync_timeout
        row, unconsumed = await _wait(hv, request, timeout)
        if unconsumed is not None:
            return _accepted(hv, request, body, unconsumed, accepted_at)
        if row is not None and row["status"] in FINISHED:
            finished = TriggeredRun.model_validate({**run_out(row), "message": finished_message(row)})
            return JSONResponse(finished.model_dump(mode="json"), status_code=200)
        going = f"Collection task for {request.collector} still going after {timeout:g} s; follow status_url"
        return _accepted(hv, request, body, going, accepted_at, status=row["status"] if row else "queued")

    @api.get(
        "/status/{task_id}",
        response_model=Status,
        responses={404: {"model": ErrorBody, "description": "No run with this task id."}},
        summary="Where a run is",
    )
    def status(task_id: Annotated[str, Path(description="task_id (= run_id) from the trigger.")]) -> Any:
        """State, progress, result and error of a run, from run history (the same answer from every API
        process; an id that history does not know is 404, never a made-up "pending")."""
        row = hv.store.get_run(task_id)
        if row is None:
            raise HTTPException(404, f"no run with task id {task_id!r}")
        out = run_out(row)
        return {**out, "state": row["status"], "task_id": row["task_id"] or row["id"]}

    return api


def finished_message(row: dict[str, Any]) -> str:
    """``Collection completed for ok``: a finished run in words (no error text, which may quote input)."""
    collector, status = row["collector"], row["status"]
    if status == "succeeded":
        return f"Collection completed for {collector}"
    if status == "failed":
        return f"Collection failed for {collector} ({row['error_category']} error in {row['error_phase']})"
    return f"Collection {status} for {collector}"


def _request(hv: Harvester, body: TriggerBody) -> RunRequest:
    if body.collector not in hv.registry:
        raise HTTPException(404, hv.registry.unknown_message(body.collector))
    try:
        # JSON in, so JSON rules, strictly: `"fail": 0` is not false here, as the schema promises.
        hv.registry.get(body.collector).Params.model_validate_json(json.dumps(body.params), strict=True)
        request = hv.request(body.collector, body.params, trigger="api", force=body.force)
        return replace(request, expires=expiry_seconds(body.expires))  # the body checked it
    except ValidationError as exc:
        raise HTTPException(422, validation_problems(exc)) from None
    except ParamsError as exc:
        raise HTTPException(422, params_problems(exc)) from None


async def _wait(hv: Harvester, request: RunRequest, timeout: float) -> tuple[dict[str, Any] | None, str | None]:
    """Poll history until the run finishes or ``timeout`` passes; the event loop stays free. A run
    still queued after NO_CONSUMER_AFTER s asks the workers (once, in a thread) whether any consumes
    its queue; when none does, the wait ends with what to say instead."""
    started = time.monotonic()
    deadline = started + timeout
    queue = hv.dispatcher.queue_of(request)
    probe: asyncio.Future[int | None] | None = None
    while True:
        row = await run_in_threadpool(hv.store.get_run, request.run_id)
        if row is None or row["status"] in FINISHED or time.monotonic() >= deadline:
            return row, None
        queued = row["status"] == "queued"
        if probe is None and queued and time.monotonic() - started >= NO_CONSUMER_AFTER:
            probe = asyncio.ensure_future(run_in_threadpool(hv.dispatcher.consumers, queue))
        if probe is not None and probe.done() and probe.result() == 0 and queued:
            return row, f"Collection task queued for {request.collector}, but {no_consumer(queue, hv.settings)}"
        await asyncio.sleep(min(POLL_INTERVAL, max(deadline - time.monotonic(), 0)))


def _accepted(
    hv: Harvester, request: RunRequest, body: TriggerBody, message: str, accepted_at: datetime, status: str = "queued"
) -> Response:
    # No read-back: what the answer says is what submit() recorded (a round trip less per trigger).
    accepted = Accepted(
        task_id=request.run_id,
        run_id=request.run_id,
        status=status,
        started_at=accepted_at,
        async_mode=body.async_mode,
        collector=request.collector,
        params=hv.registry.get(request.collector)(**request.params).redacted_params(),
        status_url=STATUS_PATH.format(task_id=request.run_id),
        message=message,
    )
    return Response(accepted.model_dump_json(), status_code=202, media_type="application/json")
