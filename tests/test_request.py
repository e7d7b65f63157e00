"""RunRequest on the wire: a compact message that round-trips, and a description without params."""

from __future__ import annotations

import pytest

from harvester.app import Harvester
from harvester.request import RunRequest
from harvester.settings import Settings


@pytest.mark.parametrize(
    "request_",
    [
        RunRequest(collector="ok", params={"value": 1}),
        RunRequest(
            collector="ok",
            params={"value": 2},
            trigger="schedule",
            parent_run_id="p-1",
            force=True,
            queue="slow",
            overlap="queue",
            schedule_group="github",
            entry_key="github:ok:k:0123456789ab",
            batch_id="20260515T000500.000000Z-1a2b3c4d",
        ),
    ],
    ids=["defaults", "every-field"],
)
def test_a_message_round_trips(request_):
    assert RunRequest.from_message(request_.to_message()) == request_


def test_a_message_leaves_out_fields_at_their_defaults():
    body = RunRequest(collector="ok", params={"value": 1}, run_id="r-1").to_message()
    assert body == {"collector": "ok", "params": {"value": 1}, "trigger": "cli", "run_id": "r-1"}


def test_a_scheduled_runs_message_carries_its_entry_group_and_batch():
    request = RunRequest(collector="ok", trigger="schedule", schedule_group="g", entry_key="g:ok:k:h", batch_id="b")
    body = request.to_message()
    assert (body["schedule_group"], body["entry_key"], body["batch_id"]) == ("g", "g:ok:k:h", "b")
    assert RunRequest.from_history({**body, "id": body["run_id"], "parent_run_id": None}) == request


def test_a_full_message_from_an_older_sender_is_still_read():
    old = {
        "collector": "ok",
        "params": {},
        "trigger": "api",
        "run_id": "r-2",
        "parent_run_id": None,
        "force": False,
        "queue": None,
        "overlap": None,
    }
    assert RunRequest.from_message(old) == RunRequest(collector="ok", trigger="api", run_id="r-2")


def test_flower_and_worker_logs_see_the_run_not_its_secret_params(tmp_path):
    hv = Harvester(Settings(data_dir=tmp_path / "data", collectors=["sample_collectors"]))
    request = hv.request("secretive", {"api_key": "s3cret-value"})
    assert request.params["api_key"] == "s3cret-value"  # the worker needs it revealed
    options = hv.dispatcher._options(request)
    assert options["argsrepr"] == f"secretive run {request.run_id}"
    assert "s3cret" not in options["argsrepr"] + options["kwargsrepr"]
