"""The API's synchronous trigger does not wait out its timeout for a run no worker consumes: it
answers 202 within seconds, saying so and how to start one (embedded broker, no worker on it)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from api_support import Client
from stack import Stack

from harvester.api import create_app


@pytest.mark.slow
def test_sync_trigger_answers_202_with_the_fix_when_no_worker_consumes_the_queue(tmp_path: Path) -> None:
    here = Stack(tmp_path / "here", api_sync_timeout=60.0)
    client = Client(create_app(here.hv))
    try:
        started = time.monotonic()
        answer = client.post(
            "/api/v1/collect/trigger",
            json={"collector": "ok", "params": {"token": uuid.uuid4().hex}, "async_mode": False},
        )
        took = time.monotonic() - started
        assert answer.status_code == 202, answer.text
        body = answer.json()
        assert took < 10, f"answered after {took:.1f}s"
        assert body["status"] == "queued"
        assert "no worker consumes queue 'harvester'" in body["message"]
        assert "harvester worker --queues harvester" in body["message"]
        assert f"data folder {here.settings.data_dir.resolve()}" in body["message"]
        assert here.hv.store.get_run(body["run_id"])["status"] == "queued"  # recorded: a worker takes it later
    finally:
        client.close()
        here.close()


@pytest.mark.slow
def test_a_worker_on_other_queues_does_not_count(stack: Any) -> None:
    """The workers that answer are asked which queues they consume: one on `other` only is no
    consumer of `harvester` (embedded, and Redis, where the hint names the broker URL instead)."""
    stack.worker("--queues", "other")
    client = Client(create_app(stack.hv))
    try:
        answer = client.post(
            "/api/v1/collect/trigger",
            json={"collector": "ok", "params": {"token": uuid.uuid4().hex}, "async_mode": False},
        )
        assert answer.status_code == 202, answer.text
        message = answer.json()["message"]
        assert "no worker consumes queue 'harvester'" in message
        same = "HARVESTER_DATA_DIR" if stack.kind == "embedded" else "HARVESTER_BROKER_URL"
        assert f"with the same {same}" in message
    finally:
        client.close()
