"""Fan-out on real workers: a chord of member runs, gather, steps, partial failure, killed members."""

from __future__ import annotations

import os
import signal
import time

import pytest
from stack import Stack, wait_for_start

from harvester.examples.topic import Topic

pytestmark = [pytest.mark.slow, pytest.mark.services]

FANOUT = {"collectors": ["sample_collectors", "fanout_collectors", "harvester.examples"]}


@pytest.fixture
def fan_stack(stack: Stack) -> Stack:
    """The ``stack`` deployments, with the fan-out collectors registered too."""
    overrides = {k: v for k, v in stack.settings.model_dump().items() if k in ("broker_url", "database_url")}
    made = Stack(stack.folder.parent / "fan", **overrides, **FANOUT)
    made.kind = stack.kind  # type: ignore[attr-defined]
    yield made
    made.close()


def members_of(stack: Stack, run_id: str) -> list[dict]:
    return stack.hv.store.members(run_id)


def test_topic_flow_gathers_cleans_and_processes(fan_stack):
    fan_stack.worker()
    run_id = fan_stack.trigger("topic", topic="rain")
    row = fan_stack.wait(run_id)
    assert row["status"] == "succeeded", row["error_message"]
    expected = Topic(topic="rain").run()["item_count"]  # the same flow in-process, no broker
    assert row["result"] == {"request_id": run_id, "item_count": expected}
    members = members_of(fan_stack, run_id)
    assert [m["params"]["source"] for m in members] == [1, 2, 3]
    assert {(m["status"], m["parent_run_id"], m["trigger"]) for m in members} == {("succeeded", run_id, "parent")}
    assert (row["progress_done"], row["progress_total"], row["members"]) == (3, 3, 3)
    assert row["duration"] >= max(m["duration"] for m in members)


def test_members_run_in_parallel(fan_stack):
    fan_stack.worker()  # concurrency 2
    row = fan_stack.wait(fan_stack.trigger("topic", topic="overlap", sources=2, delay=1.0))
    assert row["status"] == "succeeded", row["error_message"]
    first, second = members_of(fan_stack, row["id"])
    # the two intervals intersect: each started before the other finished
    assert first["started_at"] < second["finished_at"]
    assert second["started_at"] < first["finished_at"]


def test_failed_member_is_listed_and_the_others_gathered(fan_stack):
    fan_stack.worker()
    members = [
        {"collector": "ok", "params": {"token": "a", "value": 2}},
        {"collector": "fatal_fail", "params": {"token": "b"}},
        {"collector": "ok", "params": {"token": "c", "value": 5}},
    ]
    row = fan_stack.wait(fan_stack.trigger("fan", token="partial", members=members))
    assert row["status"] == "succeeded", row["error_message"]
    failed_member = members_of(fan_stack, row["id"])[1]
    assert row["result"]["total"] == 7
    assert row["result"]["failed"] == [{"name": "fatal_fail", "category": "unknown", "run_id": failed_member["id"]}]
    assert failed_member["status"] == "failed"


def test_require_all_fails_the_parent_with_the_members_category(fan_stack):
    fan_stack.worker()
    members = [
        {"collector": "ok", "params": {"token": "a"}},
        {"collector": "retry_fail", "params": {"token": "b"}},  # retried twice, then fails as network
    ]
    row = fan_stack.wait(fan_stack.trigger("fan_all", token="all", members=members), timeout=60)
    assert row["status"] == "failed"
    assert (row["error_category"], row["error_phase"]) == ("network", "gather")
    assert "retry_fail" in row["error_message"]
    retried = members_of(fan_stack, row["id"])[1]
    assert retried["attempt"] == 3


def test_skipped_member_does_not_hang_the_flow(fan_stack, tmp_path):
    fan_stack.worker()
    markers = tmp_path / "markers"
    markers.mkdir()
    holder = fan_stack.trigger("slow", token="held", marker_dir=str(markers))
    wait_for_start(markers)
    members = [{"collector": "slow", "params": {"token": "held", "marker_dir": str(markers)}}]
    row = fan_stack.wait(fan_stack.trigger("fan", token="skip", members=members))
    (markers / "release").touch()
    assert row["status"] == "succeeded"
    assert row["result"]["failed"][0]["category"] == "skipped"
    assert fan_stack.wait(holder)["status"] == "succeeded"


def test_member_killed_mid_collect_is_redelivered_and_the_parent_finishes(fan_stack, tmp_path):
    fan_stack.worker()
    markers = tmp_path / "markers"
    markers.mkdir()
    members = [
        {"collector": "slow", "params": {"token": "k", "marker_dir": str(markers)}},
        {"collector": "ok", "params": {"token": "k2", "value": 3}},
    ]
    run_id = fan_stack.trigger("fan", token="kill", members=members)
    (pid,) = wait_for_start(markers)
    os.kill(pid, signal.SIGKILL)  # kill -9 the pool process running the member
    (markers / "release").touch()
    row = fan_stack.wait(run_id, timeout=90)
    assert row["status"] == "succeeded", row["error_message"]
    slow = members_of(fan_stack, run_id)[0]
    assert [a["status"] for a in fan_stack.hv.store.attempts(slow["id"])] == ["lost", "succeeded"]
    assert row["result"]["failed"] == []


def test_whole_worker_killed_mid_fanout_is_reaped_and_gathered(fan_stack, tmp_path):
    first = fan_stack.worker()
    markers = tmp_path / "markers"
    markers.mkdir()
    members = [{"collector": "slow", "params": {"token": "w", "marker_dir": str(markers)}}]
    run_id = fan_stack.trigger("fan", token="kill-all", members=members)
    wait_for_start(markers)
    first.kill_all()  # nothing acks, rejects or polls the chord any more
    (markers / "release").touch()
    fan_stack.worker()
    deadline = time.monotonic() + 60
    while fan_stack.hv.store.get_run(run_id)["status"] == "running" and time.monotonic() < deadline:
        fan_stack.hv.reap()  # what `harvester beat` runs every lost_after / 2 seconds
        time.sleep(0.5)
    row = fan_stack.wait(run_id, timeout=30)
    assert row["status"] == "succeeded", row["error_message"]
    assert fan_stack.hv.store.list_runs(status="running") == []


def test_a_fan_out_of_many_members_goes_as_chunks_and_every_member_runs_once(fan_stack):
    """Over runner.MEMBER_MESSAGES members, the members travel as chunk messages (harvester.batch):
    each still a run of its own, counted into its parent once."""
    fan_stack.worker()
    members = [{"collector": "ok", "params": {"token": f"m{i}", "value": 1}} for i in range(600)]
    row = fan_stack.wait(fan_stack.trigger("fan", token="many", members=members), timeout=180)
    assert row["status"] == "succeeded", row["error_message"]
    assert row["result"]["total"] == 600
    ran = members_of(fan_stack, row["id"])
    assert len(ran) == 600
    assert {(m["status"], m["attempt"]) for m in ran} == {("succeeded", 1)}
    assert (row["progress_done"], row["members"]) == (600, 600)
