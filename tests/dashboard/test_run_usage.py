"""The run page shows what each attempt cost (CPU, peak memory, records) and why an expired run
never ran; the runs list filters on `expired`."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from dashboard_demo import dashboard_app, make_harvester
from dashboard_server import serve

from harvester.execution.requests import new_run
from harvester.history.engine import utcnow


@pytest.fixture
def hv(tmp_path):
    made = make_harvester(tmp_path)
    yield made
    made.close()


def test_the_run_page_shows_each_attempts_cpu_memory_and_records(hv):
    result = hv.run_inline(hv.request("github_stars", {"org": "octo"}))
    row = hv.store.get_run(result.run_id)
    with serve(dashboard_app(hv)) as base_url:
        html = httpx.get(f"{base_url}/runs/{result.run_id}").text
    assert "<dt>CPU</dt>" in html
    assert "<dt>Peak memory</dt>" in html
    assert f"{row['peak_memory'] / 2**20:.1f} MiB" in html
    assert "<th>CPU</th><th>Memory</th><th>Records</th>" in html


def test_an_expired_run_says_no_worker_started_it_in_time(hv):
    request = hv.request("github_stars", {"org": "octo"})
    hv.store.create_runs([new_run(hv.registry, replace(request, expires=0.001))])
    assert [r["id"] for r in hv.store.expire_due(utcnow() + timedelta(seconds=1))] == [request.run_id]
    with serve(dashboard_app(hv)) as base_url:
        html = httpx.get(f"{base_url}/runs/{request.run_id}").text
        listed = httpx.get(f"{base_url}/runs", params={"status": "expired"})
    assert 'class="badge status-expired">expired<' in html
    assert "no worker started it by" in html
    assert listed.status_code == 200
    assert request.run_id[:8] in listed.text


def test_the_overview_and_the_collector_page_show_typical_cpu_and_memory(hv):
    for _ in range(3):
        hv.run_inline(hv.request("github_stars", {"org": "octo"}))
    with serve(dashboard_app(hv)) as base_url:
        overview = httpx.get(base_url).text
        page = httpx.get(f"{base_url}/collectors/github_stars").text
    assert 'class="muted small usage"' in overview
    assert "typical CPU and peak memory" in page
