"""The trigger button in Chromium against the real API app (create_app): the run it creates shows
up without a reload and, with a real worker, finishes; with HARVESTER_API_TOKEN set, the login form
opens the dashboard and the trigger carries the page's CSRF token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dashboard_server import serve
from playwright.sync_api import expect
from stack import Stack

from harvester.api.app import create_app

pytestmark = pytest.mark.slow


@pytest.fixture
def embedded(tmp_path) -> Iterator[Stack]:
    """The embedded default: SQLite history, filesystem broker."""
    made = Stack(tmp_path / "stack")
    yield made
    made.close()


def test_trigger_creates_a_run_that_appears_and_finishes_without_a_reload(page, embedded):
    stack = embedded
    stack.worker()
    with serve(create_app(stack.hv)) as base_url:
        page.goto(base_url + "/")
        page.evaluate("window.loadedOnce = true")  # gone if the page reloaded
        expect(page.locator("tr[data-run]")).to_have_count(0)
        page.locator('button[data-trigger="ok"]').click()
        expect(page.locator(".toast")).to_contain_text("ok: run ")
        run = page.locator("tr[data-run]")
        expect(run).to_have_count(1)
        expect(run.locator(".badge")).to_have_text("succeeded", timeout=30_000)
        expect(page.locator('tr[data-collector="ok"] .badge.status-succeeded')).to_be_visible()
        assert page.evaluate("window.loadedOnce") is True
        run_id = run.get_attribute("data-run")
    row = stack.hv.store.get_run(run_id)
    assert (row["collector"], row["trigger"], row["status"]) == ("ok", "api", "succeeded")


def test_with_a_token_the_page_logs_in_through_the_form_and_triggers_with_its_csrf_token(page, tmp_path):
    stack = Stack(tmp_path / "stack", api_token="sesame")
    page.on("dialog", lambda dialog: pytest.fail(f"no prompt expected: {dialog.message}"))
    posts: list[dict[str, str]] = []
    page.on("request", lambda request: posts.append(request.headers) if request.method == "POST" else None)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    try:
        with serve(create_app(stack.hv)) as base_url:
            page.goto(base_url + "/runs")
            expect(page).to_have_url(f"{base_url}/login?next=%2Fruns")
            page.fill("input[name=token]", "wrong")
            page.click("button[type=submit]")
            expect(page.locator(".notice-error")).to_have_text("Wrong token.")
            page.fill("input[name=token]", "sesame")
            page.click("button[type=submit]")
            expect(page).to_have_url(f"{base_url}/runs")
            assert page.evaluate("document.cookie") == ""  # HttpOnly: no page script sees the session
            page.goto(base_url + "/")
            page.locator('button[data-trigger="ok"]').click()
            expect(page.locator(".toast")).to_contain_text("ok: run ")
            expect(page.locator("tr[data-run]")).to_have_count(1)  # queued: no worker here
            trigger = posts[-1]
            assert trigger["x-csrf-token"] == page.get_attribute('meta[name="csrf-token"]', "content")
            assert "authorization" not in trigger
            page.set_viewport_size({"width": 375, "height": 740})  # the Log out button fits on a phone
            assert page.evaluate("document.documentElement.scrollWidth") <= 375
            page.set_viewport_size({"width": 1280, "height": 900})
            page.click("text=Log out")
            expect(page).to_have_url(f"{base_url}/login")
            page.goto(base_url + "/")
            expect(page).to_have_url(f"{base_url}/login?next=%2F")
        assert not [line for line in console if "Content Security Policy" in line]  # the pages satisfy it
    finally:
        stack.close()
    assert [r["status"] for r in stack.hv.store.list_runs()] == ["queued"]
