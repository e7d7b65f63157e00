"""Triggers arriving together: each one is recorded before its answer and sent once, whatever the
batch it shared its transaction with."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import redis as redis_client
from fastapi import FastAPI

from harvester import Harvester
from harvester.api import create_app
from harvester.execution.dispatcher import DispatchError

TRIGGER = "/api/v1/collect/trigger"


def post_together(app: FastAPI, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    """POST every body at once on one event loop, as concurrent clients do under uvicorn."""

    async def scenario() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as http:
            return list(await asyncio.gather(*(http.post(TRIGGER, json=body) for body in bodies)))

    return asyncio.run(scenario())


def test_concurrent_triggers_are_each_recorded_and_sent_once(hv, workers):
    answers = post_together(create_app(hv), [{"collector": "ok", "params": {"value": n}} for n in range(20)])
    assert [a.status_code for a in answers] == [202] * 20
    run_ids = [a.json()["run_id"] for a in answers]
    assert len(set(run_ids)) == 20
    assert [a.json()["params"]["value"] for a in answers] == list(range(20))  # each answer is its own run
    assert sorted(r.run_id for r in workers.sent) == sorted(run_ids)
    for answer in answers:
        row = hv.store.get_run(answer.json()["run_id"])
        assert (row["status"], row["trigger"], row["params"]["value"]) == (
            "queued",
            "api",
            answer.json()["params"]["value"],
        )


def test_concurrent_triggers_with_the_broker_down_are_each_answered_202_and_recorded(hv, workers):
    def down(requests: Any, *, countdown: float | None = None) -> None:
        raise DispatchError("broker unreachable at redis://127.0.0.1:6390/0: ConnectionRefusedError")

    workers.publish = down
    answers = post_together(create_app(hv), [{"collector": "ok", "params": {"value": n}} for n in range(5)])
    assert [a.status_code for a in answers] == [202] * 5
    for answer in answers:
        assert answer.json()["message"].startswith("Collection task recorded for ok; the broker did not take it")
        assert hv.store.get_run(answer.json()["run_id"])["status"] == "queued"  # recovery sends it


def test_invalid_triggers_among_valid_ones_fail_alone(hv, workers):
    bodies = [
        {"collector": "ok", "params": {"value": 1}},
        {"collector": "okk"},
        {"collector": "ok", "params": {"value": "three"}},
        {"collector": "ok", "params": {"value": 4}},
    ]
    answers = post_together(create_app(hv), bodies)
    assert [a.status_code for a in answers] == [202, 404, 422, 202]
    assert answers[2].json()["detail"][0]["loc"] == ["body", "params", "value"]
    assert sorted(r.params["value"] for r in workers.sent) == [1, 4]


@pytest.mark.services
def test_concurrent_triggers_reach_redis_each_once_and_postgresql_before_the_answer(
    tmp_path, redis_url, postgres_url, monkeypatch
):
    from api_support import make_settings

    redis_client.Redis.from_url(redis_url).flushdb()  # this session's own Redis DB: no earlier message
    hv = Harvester(make_settings(tmp_path, broker_url=redis_url, database_url=postgres_url))
    answered: list[str] = []
    submit = hv.submit

    def submit_then_check(requests: Any) -> list[str]:
        ids = submit(requests)
        for run_id in ids:  # recorded (committed, seen from another connection) before any answer
            assert hv.store.get_run(run_id) is not None
            assert run_id not in answered
        return ids

    monkeypatch.setattr(hv, "submit", submit_then_check)
    try:
        answers = post_together(create_app(hv), [{"collector": "ok", "params": {"value": n}} for n in range(30)])
        answered.extend(a.json()["run_id"] for a in answers)
        assert [a.status_code for a in answers] == [202] * 30
        queue = hv.dispatcher.queue_of(hv.request("ok"))
        messages = redis_client.Redis.from_url(redis_url).lrange(queue, 0, -1)
        assert sorted(json.loads(m)["headers"]["id"] for m in messages) == sorted(answered)
    finally:
        hv.close()
