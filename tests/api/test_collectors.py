"""GET /api/v1/collectors: params schema (secrets marked), schedule entries, next run, freshness, last run."""

from __future__ import annotations

from datetime import UTC, datetime

from harvester.execution.requests import entry_requests
from harvester.request import new_batch_id
from harvester.schedule.overview import read_schedule_file

SCHEDULE = """\
timezone: UTC
groups:
  main:
    tasks:
      - collector: ok
        schedule: every 15m
        params: {value: 2}
      - collector: ok
        schedule: daily
        at: "03:00"
        freshness: 2d
      - collector: emitter
        schedule: hourly
        enabled: false
"""


def by_name(client):
    answer = client.get("/api/v1/collectors")
    assert answer.status_code == 200
    return {c["name"]: c for c in answer.json()}


def test_every_registered_collector_is_listed_with_its_params_schema(client, hv):
    collectors = by_name(client)
    assert set(collectors) == set(hv.registry.names())
    ok = collectors["ok"]
    assert ok["params_schema"]["properties"]["value"] == {"default": 1, "title": "Value", "type": "integer"}
    assert (ok["queue"], ok["overlap"], ok["secret_params"], ok["schedule"], ok["last_run"]) == (
        "harvester",
        "skip",
        [],
        [],
        None,
    )
    assert collectors["ok"]["description"] == "Succeeds and returns its value."


def test_secret_params_are_marked_and_carry_no_default(client):
    secretive = by_name(client)["secretive"]
    assert secretive["secret_params"] == ["api_key"]
    api_key = secretive["params_schema"]["properties"]["api_key"]
    assert api_key["x-secret"] is True
    assert api_key["format"] == "password"
    assert "default" not in api_key


def run_entry(hv, workers, index):
    """Send the runs of the schedule file's entry ``index`` as beat does, and let the workers run them."""
    entry = read_schedule_file(hv.settings.schedule_file, hv.registry).schedule.entries[index]
    requests = entry_requests(hv.registry, entry, new_batch_id(datetime.now(UTC)))
    hv.submit(requests)
    workers.join()
    return requests


def test_schedule_entries_with_next_run_and_freshness(client, hv, workers):
    hv.settings.schedule_file.write_text(SCHEDULE)
    workers.mode = "run"
    client.post("/api/v1/collect/trigger", json={"collector": "ok", "params": {"value": 2}, "async_mode": False})
    by_hand = by_name(client)["ok"]["schedule"][0]
    assert by_hand["status"] == "never run"  # a run by hand is not a run of the entry
    run_entry(hv, workers, 0)
    collectors = by_name(client)
    every, daily = collectors["ok"]["schedule"]
    assert (every["name"], every["group"], every["line"], every["schedule"]) == ("main/ok@5", "main", 5, "every 15m")
    assert (every["status"], every["stale"], every["freshness"]) == ("fresh", False, "45m")
    assert every["last_success_at"] is not None
    assert (daily["name"], daily["schedule"], daily["status"], daily["stale"]) == (
        "main/ok@8",
        "daily at 03:00",
        "never run",
        True,
    )
    assert datetime.fromisoformat(daily["next_run"]).time().hour == 3
    assert datetime.fromisoformat(every["next_run"]) > datetime.now(UTC)
    assert collectors["emitter"]["schedule"] == []  # disabled entries are not shown
    assert collectors["ok"]["last_run"]["status"] == "succeeded"


def test_a_broken_schedule_file_leaves_the_collectors_listed(client, hv):
    hv.settings.schedule_file.write_text("groups: [")
    assert by_name(client)["ok"]["schedule"] == []


def test_groups_show_each_groups_last_batch(client, hv, workers):
    hv.settings.schedule_file.write_text(SCHEDULE + "  idle:\n    tasks:\n      - {collector: ok, schedule: daily}\n")
    assert [g["last_batch"] for g in client.get("/api/v1/groups").json()] == [None, None]
    workers.mode = "run"
    [request] = run_entry(hv, workers, 0)
    main, idle = client.get("/api/v1/groups").json()
    assert (main["group"], main["entries"], idle) == ("main", 2, {"group": "idle", "entries": 1, "last_batch": None})
    batch = main["last_batch"]
    assert (batch["batch_id"], batch["outcome"], batch["runs"], batch["succeeded"], batch["failed"]) == (
        request.batch_id,
        "succeeded",
        1,
        1,
        0,
    )
    assert batch["ended_at"] is not None
    every = by_name(client)["ok"]["schedule"][0]
    assert every["group_last_batch"] == batch


def test_groups_are_empty_without_a_schedule_file(client):
    assert client.get("/api/v1/groups").json() == []
