"""GET /api/v1/collectors: params schema (secrets marked), schedule entries, next run, freshness, last run."""

from __future__ import annotations

from datetime import UTC, datetime

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


def test_schedule_entries_with_next_run_and_freshness(client, hv, workers):
    hv.settings.schedule_file.write_text(SCHEDULE)
    workers.mode = "run"
    client.post("/api/v1/collect/trigger", json={"collector": "ok", "params": {"value": 2}, "async_mode": False})
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
