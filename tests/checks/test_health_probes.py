"""/health?checks=collectors: stored probe results, made again once older than the TTL, within the timeout."""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "api"))

from api_support import Client, build

from harvester.api import create_app
from harvester.history.checks import CheckStore

SCHEDULE = """\
groups:
  web:
    tasks:
      - collector: probe_denied
        schedule: daily
        params: {token: "${PROBE_TOKEN}"}
"""


@pytest.fixture
def hv(tmp_path, monkeypatch):
    monkeypatch.setenv("PROBE_TOKEN", "s3cret-token")
    (tmp_path / "schedule.yaml").write_text(SCHEDULE)
    made = build(tmp_path, collectors=["probe_collectors"], check_ttl=60.0, health_timeout=1.0)
    monkeypatch.setattr(made.celery.control, "ping", lambda **kwargs: [{"w@host": {"ok": "pong"}}])
    yield made
    made.close()


@pytest.fixture
def client(hv):
    made = Client(create_app(hv))
    yield made
    made.close()


def probes(answer) -> dict:
    return {(p["collector"], p["entry"]): p for p in answer.json()["checks"]["collectors"]["details"]["probes"]}


def test_without_the_parameter_health_has_no_probes(client, hang):
    answer = client.get("/health")
    assert answer.status_code == 200
    assert "collectors" not in answer.json()["checks"]


def test_one_passing_and_one_failing_probe_are_reported_and_make_health_unhealthy(client, hang):
    answer = client.get("/health?checks=collectors")
    assert answer.status_code == 503
    body = answer.json()
    collectors = body["checks"]["collectors"]
    assert (collectors["ok"], collectors["error"]) == (False, "probe_failed")
    found = probes(answer)
    assert set(found) == {("probe_denied", "web (line 4)"), ("probe_hangs", "defaults"), ("probe_ok", "defaults")}
    assert found[("probe_ok", "defaults")]["ok"] is True
    assert found[("probe_ok", "defaults")]["error"] is None
    assert found[("probe_denied", "web (line 4)")]["error"] == "permission"
    assert found[("probe_hangs", "defaults")]["error"] == "timeout"  # overran the health timeout
    assert all(p["source"] == "health" for p in found.values())
    assert collectors["details"]["made_now"] == 3
    assert "s3cret-token" not in answer.text
    assert "Forbidden" not in answer.text  # a category, never the message, on a public route
    for name in ("database", "broker", "workers", "schedule"):
        assert body["checks"][name]["ok"], name


def test_results_younger_than_the_ttl_are_read_not_made_again(hv, client, hang):
    first = client.get("/health?checks=collectors")
    started = time.monotonic()
    second = client.get("/health?checks=collectors")
    assert time.monotonic() - started < 0.9  # the hanging probe is not waited for again
    assert second.json()["checks"]["collectors"]["details"]["made_now"] == 0
    assert (
        probes(second)[("probe_ok", "defaults")]["checked_at"] == probes(first)[("probe_ok", "defaults")]["checked_at"]
    )


def test_results_older_than_the_ttl_are_made_again(hv, client, hang):
    client.get("/health?checks=collectors")
    store = CheckStore(hv.store)
    rows = store.latest().values()
    old = [_aged(row, timedelta(minutes=5)) for row in rows if row["collector"] != "probe_hangs"]
    store.record(old, "cli")
    answer = client.get("/health?checks=collectors")
    assert answer.json()["checks"]["collectors"]["details"]["made_now"] == 2
    assert probes(answer)[("probe_ok", "defaults")]["source"] == "health"


def test_stored_results_of_harvester_check_or_a_worker_are_what_health_shows(hv, client):
    from probe_collectors import RELEASE

    from harvester.execution.checks import CheckTarget, run_checks

    RELEASE.set()  # the hanging probe passes at once here
    targets = [
        CheckTarget("probe_ok", {}),
        CheckTarget("probe_hangs", {}),
        CheckTarget("probe_denied", {"token": "${PROBE_TOKEN}"}, "web (line 4)"),
    ]
    store = CheckStore(hv.store)
    results = run_checks(hv.registry, targets, 5)
    store.record(results, "schedule")
    answer = client.get("/health?checks=collectors")
    assert answer.status_code == 503
    found = probes(answer)
    assert {key: p["ok"] for key, p in found.items()} == {
        ("probe_denied", "web (line 4)"): False,
        ("probe_hangs", "defaults"): True,
        ("probe_ok", "defaults"): True,
    }
    assert {p["source"] for p in found.values()} == {"schedule"}
    assert found[("probe_denied", "web (line 4)")]["failing_since"] is not None
    assert answer.json()["checks"]["collectors"]["details"]["made_now"] == 0


def test_an_unknown_checks_value_is_refused(client):
    assert client.get("/health?checks=everything").status_code == 422


def _aged(row: dict, by: timedelta):
    from harvester.history.checks import CheckResult

    return CheckResult(
        row["collector"],
        row["params_key"],
        row["label"],
        row["params"],
        row["ok"],
        row["category"],
        row["detail"],
        row["checked_at"] - by,
        row["duration"],
    )


def test_an_unreachable_history_database_is_a_fixed_code_for_the_probes_too(tmp_path):
    from api_support import get_once

    hv = build(tmp_path, collectors=["probe_collectors"], health_timeout=1.0)
    hv.settings.database_url = "postgresql://postgres:hunter2@127.0.0.1:1/nowhere"
    del hv.__dict__["store"]
    answer = get_once(hv, "/health?checks=collectors")
    assert answer.status_code == 503
    collectors = answer.json()["checks"]["collectors"]
    assert (collectors["ok"], collectors["error"], collectors["details"]) == (False, "unreachable", {})
    assert "hunter2" not in answer.text
