"""The anchor of the API trigger benchmark: what a user would write by hand instead of harvester's API.

A FastAPI ``def`` endpoint that validates the body and the params with pydantic and sends the task
with Celery's ``send_task``: no history, no access control. Served by uvicorn like harvester's API::

    BENCH_BROKER_URL=redis://127.0.0.1:6379/12 uvicorn bench.api_anchor:app --port 8001
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from celery import Celery
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, ValidationError

from bench.noop import NoopParams


class TriggerBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    collector: str
    params: dict[str, Any] = {}
    async_mode: bool = True


celery = Celery("anchor", broker=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/12"), set_as_current=False)
app = FastAPI()


@app.post("/api/v1/collect/trigger", status_code=202)
def trigger(body: TriggerBody) -> dict[str, Any]:
    if body.collector != "bench_noop":
        raise HTTPException(404, "no such collector")
    try:
        params = NoopParams.model_validate(body.params, strict=True)
    except ValidationError as exc:
        raise HTTPException(422, exc.errors()) from None
    task_id = str(uuid.uuid4())
    celery.send_task("harvester.run", args=[body.collector], kwargs={"params": params.model_dump()}, task_id=task_id)
    return {"task_id": task_id, "status": "queued", "collector": body.collector}
