"""The run page's logs and Cancel button, the records view and local times in headless Chromium
(Playwright): a failed run's traceback and lines, a live run's lines arriving without a reload,
Cancel of a queued and of a running run on a real worker, and the records search."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from dashboard_demo import Seeder
from dashboard_server import serve
from playwright.sync_api import expect
from screenshots import capture_records
from stack import Stack, wait_for_cancelled_stop, wait_for_start

from harvester.api.app import create_app
from harvester.history.engine import utcnow
from harvester.history.run_logs import LogLine


@pytest.fixture
def embedded(tmp_path) -> Iterator[Stack]:
    """The embedded default (SQLite history, filesystem broker); runs log at INFO."""
    made = Stack(tmp_path / "stack", log_level="INFO")
    yield made
    made.close()


def test_a_failed_run_shows_its_traceback_and_log_lines(page, demo):
    page.goto(f"{demo.base_url}/runs/{demo.ids['failed']}")
    logs = page.locator(".log-line")
    expect(logs).to_have_count(8)
    expect(logs.first).to_contain_text("fetching observations of region alps")
    error = page.locator(".log-line.level-error")
    expect(error.locator(".log-level")).to_have_text("ERROR")
    expect(error.locator(".log-attempt")).to_have_text("#3")
    expect(error.locator(".log-message")).to_contain_text('File "/srv/collectors/weather.py", line 91, in fetch')
    expect(error.locator(".log-message")).to_be_visible()
    assert page.locator(".log-box").evaluate("box => box.scrollTop + box.clientHeight >= box.scrollHeight - 2")
    traceback = page.locator(".error-box details.traceback pre")
    expect(traceback).to_be_hidden()
    page.locator(".error-box details.traceback summary").click()
    expect(traceback).to_contain_text("harvester.errors.TransientError: upstream answered 503 Service Unavailable")


def test_times_are_shown_in_the_viewer_s_zone_with_utc_on_hover(browser, demo):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="Asia/Tokyo")
    page = context.new_page()
    page.goto(f"{demo.base_url}/runs/{demo.ids['failed']}")
    queued = page.locator(".facts time").first
    instant = datetime.fromisoformat(queued.get_attribute("datetime").replace("Z", "+00:00"))
    tokyo = (instant + timedelta(hours=9)).strftime("%Y-%m-%d %H:%M:%S")
    expect(queued).to_contain_text(tokyo)
    assert queued.get_attribute("title") == instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    first_line = page.locator(".log-line .log-time time").first
    clock = datetime.fromisoformat(first_line.get_attribute("datetime").replace("Z", "+00:00")) + timedelta(hours=9)
    expect(first_line).to_have_text(clock.strftime("%H:%M:%S"))
    page.goto(demo.base_url + "/runs")
    ago = page.locator("tr[data-run] time").first  # relative text; the local time goes in its title
    expect(ago).to_have_text(re.compile(r"ago$|just now"))
    assert ago.get_attribute("title").endswith(" UTC)")
    context.close()


def test_a_live_run_s_log_lines_appear_while_it_runs(page, embedded, tmp_path):
    stack = embedded
    hold = tmp_path / "hold"
    hold.mkdir()
    stack.worker()
    run_id = stack.trigger("chatty", hold=str(hold), lines=3, api_key="live-s3cret")
    with serve(create_app(stack.hv)) as base_url:
        page.goto(f"{base_url}/runs/{run_id}")
        page.evaluate("window.loadedOnce = true")  # gone if the page reloaded
        lines = page.locator(".log-line .log-message")
        expect(lines.first).to_have_text("starting with key **********", timeout=30_000)
        expect(page.locator(".summary-status .badge")).to_have_text("running")
        expect(page.locator(".log-line")).to_have_count(2)  # its own line and the library's; not "line 0" yet
        (hold / "release").touch()
        expect(page.locator(".log-line").last).to_contain_text("done", timeout=30_000)
        expect(lines).to_have_text(
            [
                "starting with key **********",
                "GET https://example.invalid/items -> 200",
                "line 0",
                "line 1",
                "line 2",
                "done",
            ]
        )
        expect(page.locator(".summary-status .badge")).to_have_text("succeeded")
        expect(page.locator("[data-live]")).to_have_count(0)
        assert page.evaluate("window.loadedOnce") is True
        assert "live-s3cret" not in page.content()


def test_cancel_a_queued_run_from_its_page(page, embedded, tmp_path):
    stack = embedded  # no worker: the run stays queued
    markers = tmp_path / "markers"
    markers.mkdir()
    run_id = stack.trigger("slow", marker_dir=str(markers), seconds=0)
    dialogs: list[str] = []

    def accept(dialog) -> None:  # type: ignore[no-untyped-def]
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    with serve(create_app(stack.hv)) as base_url:
        page.goto(f"{base_url}/runs/{run_id}")
        expect(page.locator(".summary-status .badge")).to_have_text("queued")
        page.locator("button[data-cancel]").click()
        expect(page.locator(".toast")).to_contain_text("cancelled (was queued)")
        expect(page.locator(".summary-status .badge")).to_have_text("cancelled")
        expect(page.locator(".summary-status")).to_contain_text("before it started")
        expect(page.locator("button[data-cancel]")).to_have_count(0)
        expect(page.locator("[data-live]")).to_have_count(0)
    assert len(dialogs) == 1
    assert dialogs[0].startswith(f"Cancel run {run_id[:8]} of slow?")
    assert stack.hv.store.get_run(run_id)["status"] == "cancelled"


def test_dismissing_the_confirmation_cancels_nothing(page, embedded, tmp_path):
    stack = embedded
    run_id = stack.trigger("slow", marker_dir=str(tmp_path), seconds=0)
    page.on("dialog", lambda dialog: dialog.dismiss())
    with serve(create_app(stack.hv)) as base_url:
        page.goto(f"{base_url}/runs/{run_id}")
        page.locator("button[data-cancel]").click()
        time.sleep(1)
        expect(page.locator(".summary-status .badge")).to_have_text("queued")
    assert stack.hv.store.get_run(run_id)["status"] == "queued"


@pytest.mark.slow
def test_cancel_a_running_run_stops_its_process_and_the_next_run_runs(page, embedded, tmp_path):
    stack = embedded
    markers = tmp_path / "markers"
    markers.mkdir()
    stack.worker()
    run_id = stack.trigger("slow", marker_dir=str(markers), seconds=120)
    (pid,) = wait_for_start(markers)
    page.on("dialog", lambda dialog: dialog.accept())
    with serve(create_app(stack.hv)) as base_url:
        page.goto(f"{base_url}/runs/{run_id}")
        expect(page.locator(".summary-status .badge")).to_have_text("running")
        page.locator("button[data-cancel]").click()
        expect(page.locator(".toast")).to_contain_text("cancelled (was running)")
        expect(page.locator(".summary-status .badge")).to_have_text("cancelled")
        expect(page.locator(".error-box")).to_contain_text("cancelled by a user")
        wait_for_cancelled_stop(stack.workers[0], run_id, pid)
        row = stack.hv.store.get_run(run_id)
        assert (row["status"], row["error_message"]) == ("cancelled", "cancelled by a user")

        (markers / "release").touch()  # the next run of the same params returns at once
        again = stack.trigger("slow", marker_dir=str(markers), seconds=120)
        page.goto(f"{base_url}/runs/{again}")
        expect(page.locator(".summary-status .badge")).to_have_text("succeeded", timeout=60_000)  # not skipped
    assert not (markers / f"ended-{run_id}").exists()  # the cancelled collector never went on


def test_records_view_with_search(page, demo):
    page.goto(demo.base_url + "/")
    page.locator('tr[data-collector="github_stars"] a.records-link').click()
    expect(page).to_have_url(f"{demo.base_url}/collectors/github_stars/records")
    expect(page.locator("tr[data-record]")).to_have_count(4)
    page.fill("input[name=key]", "python/")
    page.locator("form[role=search] button[type=submit]").click()
    expect(page).to_have_url(f"{demo.base_url}/collectors/github_stars/records?key=python%2F")
    expect(page.locator("tr[data-record]")).to_have_count(3)
    row = page.locator('tr[data-record="python/mypy"]')
    payload = row.locator("details pre.json")
    expect(payload).to_be_hidden()  # long: collapsed under a one-line summary
    row.locator("summary").click()
    expect(payload).to_contain_text('"repository": "python/mypy"')
    expect(payload).to_contain_text('    "name": "Python Software Foundation License 2.0"')  # indented
    row.locator('td[data-label="Run"] a').click()
    expect(page.locator("h1")).to_contain_text("github_stars")
    page.goto(demo.base_url + "/collectors/exchange_rates/records?key=GB")
    expect(page.locator("tr[data-record]")).to_have_count(1)
    expect(page.locator('tr[data-record="GBP"] pre.json')).to_contain_text('"rate": 0.8571')


@pytest.mark.parametrize("width", [375, 1280])
def test_the_records_view_has_no_horizontal_scroll(browser, demo, width):
    phone = width < 500
    context = browser.new_context(viewport={"width": width, "height": 740}, is_mobile=phone, has_touch=phone)
    page = context.new_page()
    page.goto(demo.base_url + "/collectors/github_stars/records")
    page.locator("tr[data-record] summary").first.click()
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth")
    context.close()


def test_a_refresh_keeps_the_reader_s_place_in_the_logs_and_open_tracebacks(page, demo):
    seeder = Seeder(demo.hv, utcnow())
    run_id = seeder.run("sitemap_crawl", timedelta(minutes=3), "running", duration=None)
    seeder.runs[-1]["duration"] = 0.0
    seeder.attempt(run_id, 1, "read timed out", at=0.2, took=30.0, retry_in=1.0)
    seeder.runs[-1].update(duration=None, finished_at=None)  # attempt 2 runs
    seeder.attempts[-1]["error_traceback"] = "Traceback (most recent call last):\nTimeoutError: read timed out"
    seeder.save()

    def log(first: int, count: int) -> None:
        lines = [
            LogLine(utcnow(), "INFO", "harvester.collector.sitemap_crawl", f"page {n}")
            for n in range(first, first + count)
        ]
        demo.hv.store.append_logs(run_id, 2, lines)

    log(0, 120)
    page.goto(f"{demo.base_url}/runs/{run_id}")
    box = page.locator("#log-box")
    at_end = "box => box.scrollTop + box.clientHeight >= box.scrollHeight - 2"
    assert box.evaluate(at_end)  # opens on the newest line
    page.locator("#traceback-1 summary").click()
    box.evaluate("box => { box.scrollTop = 0; }")  # reading from the start
    log(120, 5)
    expect(page.locator(".log-line")).to_have_count(125)
    assert box.evaluate("box => box.scrollTop") == 0  # left where the reader was
    expect(page.locator("#traceback-1 pre")).to_be_visible()  # still open
    box.evaluate("box => { box.scrollTop = box.scrollHeight; }")  # back at the end: follow again
    log(125, 5)
    expect(page.locator(".log-line")).to_have_count(130)
    assert box.evaluate(at_end)


def test_screenshot_of_the_records_view(browser, demo, tmp_path):
    shot = capture_records(demo.base_url, tmp_path, browser)
    assert shot.name == "records.png"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(shot.read_bytes()[16:20], "big") == 1280  # width from the IHDR chunk


def test_with_a_token_cancel_carries_the_page_s_csrf_token(page, tmp_path):
    stack = Stack(tmp_path / "stack", api_token="sesame")
    posts: list[dict[str, str]] = []
    page.on("request", lambda request: posts.append(request.headers) if request.method == "POST" else None)
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        run_id = stack.trigger("slow", marker_dir=str(tmp_path), seconds=0)  # no worker: it stays queued
        with serve(create_app(stack.hv)) as base_url:
            page.goto(f"{base_url}/runs/{run_id}")
            page.fill("input[name=token]", "sesame")
            page.click("button[type=submit]")
            expect(page).to_have_url(f"{base_url}/runs/{run_id}")
            page.locator("button[data-cancel]").click()
            expect(page.locator(".summary-status .badge")).to_have_text("cancelled")
            cancel = posts[-1]
            assert cancel["x-csrf-token"] == page.get_attribute('meta[name="csrf-token"]', "content")
            assert "authorization" not in cancel
        assert stack.hv.store.get_run(run_id)["status"] == "cancelled"
    finally:
        stack.close()
