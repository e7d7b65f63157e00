"""POST /api/v1/collect/trigger and GET /api/v1/collect/status/{task_id}."""

from __future__ import annotations

import asyncio
import logging

import pytest

from harvester.api import create_app

TRIGGER = "/api/v1/collect/trigger"
STATUS = "/api/v1/collect/status/"


def test_async_trigger_answers_202_with_the_queued_run(client, workers, hv):
    answer = client.post(TRIGGER, json={"collector": "ok", "params": {"value": 3}})
    assert answer.status_code == 202
    body = answer.json()
    assert body["task_id"] == body["run_id"]
    assert (body["status"], body["async_mode"], body["collector"]) == ("queued", True, "ok")
    assert body["params"] == {"token": "", "value": 3}
    assert body["status_url"] == f"{STATUS}{body['run_id']}"
    assert body["started_at"].endswith("Z")
    assert body["message"] == "Collection task queued for ok"
    assert [r.run_id for r in workers.sent] == [body["run_id"]]
    row = hv.store.get_run(body["run_id"])
    assert (row["trigger"], row["status"]) == ("api", "queued")


def test_status_follows_the_run_to_its_result(client, workers):
    run_id = client.post(TRIGGER, json={"collector": "ok", "params": {"value": 5}}).json()["run_id"]
    queued = client.get(STATUS + run_id).json()
    assert (queued["state"], queued["attempt"], queued["result"]) == ("queued", 0, None)
    workers.mode = "run"
    done = client.post(TRIGGER, json={"collector": "ok", "params": {"value": 7}}).json()["run_id"]
    workers.join()
    status = client.get(STATUS + done).json()
    assert (status["state"], status["result"], status["progress"]) == (
        "succeeded",
        {"value": 7},
        {"done": 1, "total": 1},
    )
    assert status["task_id"] == done
    assert status["finished_at"] is not None


@pytest.mark.parametrize(
    ("collector", "state", "category", "phase"),
    [
        ("config_fail", "failed", "config", "validate"),
        ("fatal_fail", "failed", "unknown", "collect"),
        ("retry_fail", "retrying", "network", "collect"),
    ],
)
def test_status_names_the_error_category_and_phase(client, workers, collector, state, category, phase):
    workers.mode = "run"
    run_id = client.post(TRIGGER, json={"collector": collector}).json()["run_id"]
    workers.join()
    status = client.get(STATUS + run_id).json()
    assert (status["state"], status["error_category"], status["error_phase"]) == (state, category, phase)
    assert status["error_message"]


def test_unknown_task_id_is_404_never_pending(client):
    answer = client.get(STATUS + "no-such-task")
    assert answer.status_code == 404
    assert answer.json() == {"detail": "no run with task id 'no-such-task'"}


def test_sync_trigger_answers_200_with_the_finished_run(client, workers):
    workers.mode = "run"
    answer = client.post(TRIGGER, json={"collector": "ok", "params": {"value": 9}, "async_mode": False})
    assert answer.status_code == 200
    run = answer.json()
    assert (run["status"], run["result"], run["trigger"], run["attempt"]) == ("succeeded", {"value": 9}, "api", 1)
    assert run["duration"] is not None
    assert run["message"] == "Collection completed for ok"


@pytest.mark.parametrize(
    ("collector", "message"),
    [
        ("ok", "Collection completed for ok"),
        ("config_fail", "Collection failed for config_fail (config error in validate)"),
        ("fatal_fail", "Collection failed for fatal_fail (unknown error in collect)"),
    ],
)
def test_a_sync_trigger_says_in_words_how_the_run_ended(client, workers, collector, message):
    workers.mode = "run"
    answer = client.post(TRIGGER, json={"collector": collector, "async_mode": False})
    assert (answer.status_code, answer.json()["message"]) == (200, message)


def test_sync_trigger_that_outlives_its_timeout_answers_202_and_the_run_goes_on(client, workers, hv):
    answer = client.post(TRIGGER, json={"collector": "ok", "async_mode": False})  # held: nobody runs it
    assert answer.status_code == 202
    body = answer.json()
    assert (body["status"], body["async_mode"]) == ("queued", False)
    assert body["message"].startswith("Collection task for ok still going after ")
    assert hv.store.get_run(body["run_id"])["status"] == "queued"
    assert [r.run_id for r in workers.sent] == [body["run_id"]]


def test_a_waiting_sync_trigger_leaves_the_event_loop_free(hv, workers):
    """While one request waits for its run, another is answered (the wait polls with asyncio.sleep)."""
    import httpx

    hv.settings.api_sync_timeout = 5.0
    app = create_app(hv)
    finished: list[str] = []

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as http:

            async def waiting() -> None:
                await http.post(TRIGGER, json={"collector": "ok", "async_mode": False})
                finished.append("sync trigger")

            async def listing() -> None:
                while not workers.sent:
                    await asyncio.sleep(0.01)
                assert (await http.get("/api/v1/runs")).status_code == 200
                finished.append("runs listing")
                workers.hv.runner.execute(workers.sent[0])  # now let the run finish

            await asyncio.gather(waiting(), listing())

    asyncio.run(scenario())
    assert finished == ["runs listing", "sync trigger"]


def test_unknown_collector_is_404_with_a_suggestion(client, workers):
    answer = client.post(TRIGGER, json={"collector": "okk"})
    assert answer.status_code == 404
    assert "unknown collector 'okk' (did you mean 'ok'?)" in answer.json()["detail"]
    assert workers.sent == []


def test_invalid_params_are_422_naming_the_field(client, workers):
    answer = client.post(TRIGGER, json={"collector": "ok", "params": {"value": "many"}})
    assert answer.status_code == 422
    (problem,) = answer.json()["detail"]
    assert problem["loc"] == ["body", "params", "value"]
    assert problem["msg"].startswith("value: Input should be a valid integer")
    assert "many" not in answer.text  # input values are never echoed
    missing = client.post(TRIGGER, json={"collector": "secretive"}).json()["detail"]
    assert missing[0]["loc"] == ["body", "params", "api_key"]
    unknown = client.post(TRIGGER, json={"collector": "ok", "params": {"colour": "red"}}).json()["detail"]
    assert "unknown params for collector 'ok': colour" in unknown[0]["msg"]
    assert workers.sent == []


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b'{"collector": "ok",', "json_invalid"),
        (b'["ok"]', "model_attributes_type"),
        (b'{"collector": "ok", "async_mode": "maybe"}', "bool_type"),
        (b'{"collector": "ok", "colour": 1}', "extra_forbidden"),
    ],
)
def test_malformed_bodies_are_422(client, workers, content, kind):
    answer = client.post(TRIGGER, content=content, headers={"content-type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["type"] == kind
    assert "input" not in answer.json()["detail"][0]
    assert workers.sent == []


def test_a_secret_param_never_appears_in_answers_or_logs(client, workers, hv, caplog):
    caplog.set_level(logging.DEBUG)
    workers.mode = "run"
    secret = "s3cr3t-value-123"
    answer = client.post(TRIGGER, json={"collector": "secretive", "params": {"api_key": secret}, "async_mode": False})
    assert answer.status_code == 200
    run = answer.json()
    assert run["params"]["api_key"] == "**********"
    assert run["result"] == {"key_length": len(secret)}  # the collector did get the real value
    run_id = run["run_id"]
    async_answer = client.post(TRIGGER, json={"collector": "secretive", "params": {"api_key": secret, "token": "b"}})
    workers.join()
    bodies = [
        answer.text,
        async_answer.text,
        client.get(STATUS + run_id).text,
        client.get(f"/api/v1/runs/{run_id}").text,
        client.get("/api/v1/runs").text,
        client.get("/api/v1/collectors").text,
        client.get("/metrics").text,
    ]
    assert all(secret not in body for body in bodies)
    assert secret not in caplog.text
    assert "**********" in async_answer.text


def test_force_is_passed_on(client, workers):
    client.post(TRIGGER, json={"collector": "ok", "force": True})
    client.post(TRIGGER, json={"collector": "ok"})
    assert [r.force for r in workers.sent] == [True, False]


def test_params_follow_json_types_strictly(client, workers):
    answer = client.post(TRIGGER, json={"collector": "stateful", "params": {"fail": 0}})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "params", "fail"]
    assert client.post(TRIGGER, json={"collector": "stateful", "params": {"fail": False}}).status_code == 202


def test_openapi_has_each_collectors_params_and_examples(client, hv):
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    body = schemas["TriggerBody"]
    assert len(body["oneOf"]) == len(hv.registry)
    assert body["discriminator"]["mapping"]["ok"] == "#/components/schemas/Trigger.ok"
    assert body["examples"][0]["collector"] == "system_metrics"
    ok = schemas["Trigger.ok"]
    assert ok["properties"]["collector"]["const"] == "ok"
    assert ok["properties"]["params"]["additionalProperties"] is False
    assert ok["required"] == ["collector"]
    secretive = schemas["Trigger.secretive"]
    assert secretive["required"] == ["collector", "params"]
    assert secretive["properties"]["params"]["properties"]["api_key"]["x-secret"] is True
    for name in ("Run", "RunDetail", "RunsPage", "Status", "Accepted", "CollectorOut", "Health", "ErrorBody"):
        assert schemas[name]["examples"], name
    trigger = document["paths"]["/api/v1/collect/trigger"]["post"]
    assert set(trigger["responses"]) == {"200", "202", "404", "413", "422"}
    assert "security" not in trigger  # no token configured: nothing to send
    assert "securitySchemes" not in document["components"]
    assert client.get("/openapi.json").json() == document  # built once


def test_the_schema_declares_the_bearer_token_when_one_is_set(tmp_path):
    from api_support import Client, build

    hv = build(tmp_path / "guarded", api_token="t0k3n")
    client = Client(create_app(hv))
    try:
        document = client.get("/openapi.json", headers={"Authorization": "Bearer t0k3n"}).json()
    finally:
        client.close()
        hv.close()
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path in ("/api/v1/collect/trigger", "/api/v1/runs", "/api/v1/collectors"):
        for operation in document["paths"][path].values():
            assert operation["security"] == [{"HTTPBearer": []}], path
            assert "401" in operation["responses"], path
    for path in ("/health", "/metrics"):  # public by default
        assert "security" not in document["paths"][path]["get"], path


def test_trigger_with_the_broker_unreachable_answers_202_and_the_run_is_recorded(client, workers, hv):
    from harvester.execution.dispatcher import DispatchError

    def down(requests, *, countdown=None):
        raise DispatchError("broker unreachable at redis://127.0.0.1:6390/0: ConnectionRefusedError")

    workers.publish = down
    answer = client.post(TRIGGER, json={"collector": "ok", "params": {"value": 3}, "async_mode": False})
    assert answer.status_code == 202
    assert answer.json()["message"] == (
        "Collection task recorded for ok; the broker did not take it, it is sent once the broker is back"
    )
    row = hv.store.get_run(answer.json()["run_id"])
    assert (row["status"], row["next_attempt_at"] is not None) == ("queued", True)  # recovery sends it


def test_json_nested_too_deeply_is_422_like_any_malformed_body(client):
    body = '{"collector": "ok", "params": {"x": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    answer = client.post(TRIGGER, content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["type"] == "json_invalid"
