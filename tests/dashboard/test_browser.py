"""The dashboard in real headless Chromium (Playwright): what people see, live updates without a
reload, the phone width, and the screenshots for the docs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dashboard_demo import Seeder
from playwright.sync_api import expect
from screenshots import capture

from harvester.history.engine import utcnow
from harvester.history.models import runs


def test_overview_lists_collectors_with_their_status(page, demo):
    page.goto(demo.base_url + "/")
    rows = page.locator("tr[data-collector]")
    expect(rows).to_have_count(7)
    weather = page.locator('tr[data-collector="weather_stations"]')
    expect(weather.locator(".badge.status-failed")).to_have_text("failed")
    expect(weather.locator(".badge.fresh-stale")).to_be_visible()
    expect(page.locator('tr[data-collector="exchange_rates"] .badge.fresh-fresh')).to_have_text("fresh")
    expect(page.locator('tr[data-collector="sitemap_crawl"]')).to_contain_text("never run")
    trigger = page.locator('tr[data-collector="search_index_sync"] a.trigger-form')  # needs params: opens the form
    expect(trigger).to_have_attribute("href", "/collectors/search_index_sync/trigger")


def test_run_detail_of_a_failed_run_shows_its_error(page, demo):
    page.goto(demo.base_url + "/")
    page.locator('tr[data-collector="weather_stations"] .bar').last.click()
    expect(page).to_have_url(f"{demo.base_url}/runs/{demo.ids['failed']}")
    expect(page.locator(".error-box")).to_contain_text("upstream answered 503 Service Unavailable")
    expect(page.locator(".error-box")).to_contain_text("network")
    expect(page.locator(".summary-status .badge")).to_have_text("failed")
    traceback = page.locator(".error-box details.traceback pre")
    expect(traceback).to_be_hidden()  # collapsed under the message
    page.locator(".error-box details.traceback summary").click()
    expect(traceback).to_be_visible()
    expect(traceback).to_contain_text('File "/srv/collectors/weather.py", line 91, in fetch')


def test_a_new_run_appears_without_a_reload(page, demo):
    page.goto(demo.base_url + "/")
    page.evaluate("window.loadedOnce = true")  # gone if the page reloaded
    seeder = Seeder(demo.hv, utcnow())
    run_id = seeder.run("sitemap_crawl", timedelta(0), "running", duration=None, trigger="api")
    seeder.save()
    expect(page.locator(f'tr[data-run="{run_id}"]')).to_be_visible()
    expect(page.locator('tr[data-collector="sitemap_crawl"] .badge.status-running')).to_be_visible()
    assert page.evaluate("window.loadedOnce") is True


def test_filters_apply_on_change(page, demo):
    page.goto(demo.base_url + "/runs")
    page.select_option("select[name=collector]", "weather_stations")
    expect(page).to_have_url(f"{demo.base_url}/runs?collector=weather_stations&status=")
    page.select_option("select[name=status]", "failed")
    expect(page.locator("tr[data-run]")).to_have_count(6)
    expect(page.locator("tr[data-run] .badge")).to_have_text(["failed"] * 6)


@pytest.mark.parametrize("width", [375, 1280])
@pytest.mark.parametrize("path", ["/", "/runs", "run"])
def test_no_horizontal_scroll_on_a_phone_or_a_laptop(browser, demo, path, width):
    phone = width < 500
    context = browser.new_context(viewport={"width": width, "height": 740}, is_mobile=phone, has_touch=phone)
    page = context.new_page()
    page.goto(demo.base_url + (f"/runs/{demo.ids['failed']}" if path == "run" else path))
    page.wait_for_selector("main")
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth")
    for table in page.locator("main table").all():  # nor does any table scroll inside its card
        box = table.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= width
    context.close()


def test_screenshots_of_the_overview_and_a_run(browser, demo, tmp_path):
    shots = capture(demo.base_url, demo.ids["failed"], tmp_path, browser)
    assert [p.name for p in shots] == ["overview.png", "run-detail.png"]
    for shot in shots:
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(shot.read_bytes()[16:20], "big") == 1280  # width from the IHDR chunk


def test_a_running_run_updates_until_it_finishes_then_stops_polling(page, demo):
    running = demo.hv.store.list_runs(collector="github_stars", status="running", limit=1)[0]
    page.goto(f"{demo.base_url}/runs/{running['id']}")
    expect(page.locator("#live-state")).to_be_visible()
    expect(page.locator(".summary-status")).to_contain_text("running since")
    with demo.hv.store.engine.begin() as conn:
        conn.execute(
            runs.update()
            .where(runs.c.id == running["id"])
            .values(status="succeeded", finished_at=utcnow(), duration=21.5, result={"repos": 24})
        )
    expect(page.locator(".summary-status .badge")).to_have_text("succeeded")
    expect(page.locator("[data-live]")).to_have_count(0)
    expect(page.locator("#live-state")).to_be_hidden()
    expect(page.locator("pre.json").last).to_contain_text('"repos": 24')
