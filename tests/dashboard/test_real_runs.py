"""Runs made by the real runner (in this process) as the dashboard shows them: a failed run's
error, secrets that never reach a page, and hostile text escaped everywhere."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from dashboard_demo import COLLECTORS, SCHEDULE, Seeder, dashboard_app, make_harvester
from dashboard_server import serve
from pydantic import BaseModel

from harvester import Collector, Harvester, Settings
from harvester.history.engine import utcnow
from harvester.registry import Registry

HOSTILE = '<script>alert("x")</script>'


class Hostile(Collector):
    name = "hostile"
    description = f"Says {HOSTILE} in its description."

    class Params(BaseModel):
        note: str = HOSTILE

    def collect(self) -> dict[str, str]:
        return {"html": HOSTILE}


@pytest.fixture
def hv(tmp_path):
    made = make_harvester(tmp_path)
    made.registry = Registry([*COLLECTORS, Hostile])
    yield made
    made.close()


def test_a_real_failed_run_shows_its_error_and_never_its_secret(hv):
    result = hv.run_inline(hv.request("weather_stations", {"api_key": "s3cret-key-value"}))
    assert result.status == "failed"
    with serve(dashboard_app(hv)) as base_url:
        html = httpx.get(f"{base_url}/runs/{result.run_id}").text
        overview = httpx.get(base_url).text
        runs = httpx.get(f"{base_url}/runs").text
    assert "upstream answered 503 Service Unavailable" in html
    assert 'class="badge status-failed">failed<' in html
    for page in (html, overview, runs):
        assert "s3cret-key-value" not in page


def test_hostile_text_is_escaped_on_every_page(hv):
    ok = hv.run_inline(hv.request("hostile"))
    assert ok.status == "succeeded"
    seeder = Seeder(hv, utcnow())
    failed = seeder.run("hostile", timedelta(minutes=1), "failed", error_category="unknown", error_message=HOSTILE)
    seeder.save()
    with serve(dashboard_app(hv)) as base_url:
        pages = [httpx.get(base_url + path).text for path in ("/", "/runs", f"/runs/{ok.run_id}", f"/runs/{failed}")]
        pages.append(httpx.get(f"{base_url}/runs/{HOSTILE}").text)
        pages.append(httpx.get(f"{base_url}/runs", params={"collector": HOSTILE}).text)
    for page in pages:
        assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in pages[0]  # the description


def test_a_broken_schedule_file_is_reported_not_fatal(hv):
    hv.settings.schedule_file.write_text(SCHEDULE + "      - collector: githb_stars\n        schedule: hourly\n")
    with serve(dashboard_app(hv)) as base_url:
        html = httpx.get(base_url).text
    assert "1 invalid entry" in html
    assert "githb_stars" in html
    assert "hourly" in html  # the valid entries still show
    hv.settings.schedule_file.write_bytes(b"\xff\xfe not text")
    with serve(dashboard_app(hv)) as base_url:
        html = httpx.get(base_url).text
    assert "The schedule file cannot be read" in html
    hv.settings.schedule_file.unlink()
    with serve(dashboard_app(hv)) as base_url:
        html = httpx.get(base_url).text
    assert "not scheduled" in html
    assert "invalid" not in html


def test_a_real_fan_out_run_links_its_members(tmp_path):
    hv = Harvester(Settings(data_dir=tmp_path / "data", schedule_file=tmp_path / "none.yaml"))
    hv.store.upgrade()
    parent = hv.run_inline(hv.request("topic", {"sources": 3}))
    assert parent.status == "succeeded"
    members = hv.store.members(parent.run_id)
    with serve(dashboard_app(hv)) as base_url:
        html = httpx.get(f"{base_url}/runs/{parent.run_id}").text
        member = httpx.get(f"{base_url}/runs/{members[2]['id']}").text
    assert re.findall(r'<tr data-run="([^"]+)"', html) == [m["id"] for m in members]
    assert "3 member runs" in html
    assert f'href="/runs/{parent.run_id}"' in member
    assert "(member 3)" in member
    hv.close()
