"""The collector page: its latest runs by duration and outcome, its success per day, its schedule."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from harvester.dashboard.trends import DAYS, HEIGHT, MIN_BAR, RUNS, build_trends


def test_the_page_draws_latest_runs_and_days_from_history(http, demo):
    page = http.get("/collectors/weather_stations")
    assert page.status_code == 200
    html = page.text
    assert "<h1>weather_stations</h1>" in html
    runs = re.findall(r'<rect class="status-(\w+)" x="[\d.]+" y="[\d.]+" width="10" height="([\d.]+)"', html)
    assert 0 < len(runs) <= RUNS
    assert {status for status, _ in runs} <= {"succeeded", "failed", "retrying", "running", "skipped", "queued"}
    assert max(float(height) for _, height in runs) == HEIGHT  # the slowest run fills the chart
    assert len(re.findall(r'<rect class="day-(good|bad|mixed|none)"', html)) == DAYS
    assert "every 10m" in html  # its schedule entry
    assert 'href="/runs?collector=weather_stations"' in html


def test_an_unknown_collector_is_a_404_page(http):
    page = http.get("/collectors/nope")
    assert page.status_code == 404
    assert "There is no collector &#39;nope&#39;" in page.text


def test_trends_scale_durations_and_place_days(tmp_path):
    from harvester import Harvester, Settings

    hv = Harvester(Settings(data_dir=tmp_path / "data", collectors=["sample_collectors"]))
    hv.store.upgrade()
    try:
        for value in (1, 2):
            hv.run_inline(hv.request("ok", {"value": value}))
        hv.run_inline(hv.request("fatal_fail"))
        trends = build_trends(hv.store, "ok", datetime.now(UTC))
        assert len(trends.runs) == 2
        assert all(MIN_BAR <= bar.height <= HEIGHT for bar in trends.runs)
        assert (trends.succeeded, trends.failed, trends.success_rate) == (2, 0, 1.0)
        assert len(trends.days) == DAYS
        assert trends.days[-1].day == datetime.now(UTC).date()
        assert trends.days[-1].height == HEIGHT
        assert all(d.height == 0 for d in trends.days[:-1])
        assert build_trends(hv.store, "fatal_fail", datetime.now(UTC)).success_rate == 0.0
    finally:
        hv.close()


def test_the_overview_links_each_collector_to_its_page_and_the_page_to_its_form(http):
    assert 'class="collector-name" href="/collectors/weather_stations"' in http.get("/").text
    assert 'href="/collectors/weather_stations/trigger"' in http.get("/collectors/weather_stations").text
