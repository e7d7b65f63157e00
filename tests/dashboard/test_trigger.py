"""The trigger button in Chromium against the real API app (create_app): the run it creates shows
up without a reload and, with a real worker, finishes; with HARVESTER_API_TOKEN set, the page asks
for the token once and keeps it for the session."""

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


def test_with_a_token_the_page_asks_once_and_remembers_it_for_the_session(page, tmp_path):
    stack = Stack(tmp_path / "stack", api_token="sesame")
    answers = ["wrong", "sesame"]
    asked: list[str] = []

    def answer(dialog):
        asked.append(dialog.message)
        dialog.accept(answers.pop(0))

    page.on("dialog", answer)
    try:
        with serve(create_app(stack.hv)) as base_url:
            page.goto(base_url + "/")
            button = page.locator('button[data-trigger="ok"]')
            button.click()
            expect(page.locator(".toast.error")).to_contain_text("bearer token")
            button.click()
            expect(page.locator("tr[data-run]")).to_have_count(1)  # queued: no worker here
            assert page.evaluate("sessionStorage.getItem('harvester.apiToken')") == "sesame"
            page.locator('button[data-trigger="ok"]').click()
            expect(page.locator("tr[data-run]")).to_have_count(2)
        assert len(asked) == 2  # the third click used the kept token
        assert "HARVESTER_API_TOKEN" in asked[0]
    finally:
        stack.close()
    assert {r["status"] for r in stack.hv.store.list_runs()} == {"queued"}
