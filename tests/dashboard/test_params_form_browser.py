"""The params form in Chromium against the real API app (create_app) and a real worker: a bad value
is refused next to its field, a good submit opens the new run's page, which follows it to the end,
and "Run again" opens the form filled in with the run's params (a secret only as its reference)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_server import serve
from params_form_demo import capture, make_harvester
from playwright.sync_api import expect
from stack import Stack

from harvester.api.app import create_app

pytestmark = pytest.mark.slow

SECRET = "s3cret-from-a-file"
SUBMIT = "form[data-params-form] button[type=submit]"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    made = Stack(tmp_path / "stack")
    yield made
    made.close()


def field(page, name: str):  # type: ignore[no-untyped-def]
    return page.locator(f'[data-field="{name}"]')


def test_bad_value_shows_next_to_its_field_good_submit_follows_the_run_and_run_again_refills(page, stack, tmp_path):
    key_file = tmp_path / "api_key"
    key_file.write_text(SECRET + "\n")
    reference = f"${{file:{key_file}}}"
    stack.worker()
    with serve(create_app(stack.hv)) as base_url:
        page.goto(base_url + "/")
        page.locator('a[data-trigger-form="tuned"]').click()
        expect(page).to_have_url(f"{base_url}/collectors/tuned/trigger")
        page.fill('[data-field="pages"] input', "0")
        page.select_option('[data-field="mode"] select', label="thorough")
        page.fill('[data-field="api_key"] input', reference)
        page.click(SUBMIT)
        error = field(page, "pages").locator(".field-error")
        expect(error).to_have_text("Input should be greater than or equal to 1")
        expect(field(page, "pages").locator("input")).to_have_attribute("aria-invalid", "true")
        expect(field(page, "mode").locator(".field-error")).to_be_hidden()
        assert stack.hv.store.list_runs() == []  # refused before anything was recorded

        page.fill('[data-field="pages"] input', "3")
        page.click(SUBMIT)
        page.wait_for_url(f"{base_url}/runs/*")
        run_id = page.url.rsplit("/", 1)[-1]
        page.evaluate("window.loadedOnce = true")  # gone if the page reloaded
        expect(page.locator(".summary-status .badge")).to_have_text("succeeded", timeout=30_000)
        expect(page.locator("pre.json").last).to_contain_text('"key_length": 18')
        assert page.evaluate("window.loadedOnce") is True  # followed live, not reloaded
        assert SECRET not in page.content()

        page.locator("a.run-again").click()
        expect(page).to_have_url(f"{base_url}/collectors/tuned/trigger?run={run_id}")
        expect(field(page, "pages").locator("input")).to_have_value("3")
        expect(field(page, "mode").locator("select")).to_have_value('"thorough"')
        expect(field(page, "api_key").locator("input")).to_have_value(reference)  # a reference, no secret
        expect(field(page, "api_key").locator("input")).to_have_attribute("type", "password")

        page.fill('[data-field="api_key"] input', SECRET)  # a literal this time: history keeps a mask
        page.click(SUBMIT)
        page.wait_for_url(lambda url: "/runs/" in url and run_id not in url)
        expect(page.locator(".summary-status .badge")).to_have_text("succeeded", timeout=30_000)
        assert SECRET not in page.content()
        page.locator("a.run-again").click()
        expect(field(page, "api_key").locator("input")).to_have_value("")
        page.click(SUBMIT)
        expect(field(page, "api_key").locator(".field-error")).to_have_text("Field required")
    rows = stack.hv.store.list_runs()
    assert [(r["collector"], r["trigger"], r["status"]) for r in rows] == [("tuned", "api", "succeeded")] * 2
    assert rows[1]["params"]["api_key"] == reference
    assert rows[0]["params"]["api_key"] == "**********"


def test_with_a_login_the_form_sends_the_csrf_token_and_shows_other_errors_as_a_message(page, tmp_path):
    stack = Stack(tmp_path / "stack", api_token="sesame")
    posts: list[dict[str, str]] = []
    page.on("request", lambda request: posts.append(request.headers) if request.method == "POST" else None)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    try:
        with serve(create_app(stack.hv)) as base_url:
            page.goto(base_url + "/collectors/tuned/trigger")
            page.fill("input[name=token]", "sesame")
            page.click(".login button[type=submit]")
            expect(page).to_have_url(f"{base_url}/collectors/tuned/trigger")
            page.fill('[data-field="pages"] input', "2")
            page.fill('[data-field="api_key"] input', "${API_KEY}")
            page.context.clear_cookies()  # the login ends while the form is open
            page.click(SUBMIT)
            expect(page.locator("[data-form-error]")).to_contain_text("Your login has ended")
            page.goto(base_url + "/collectors/tuned/trigger")
            page.fill("input[name=token]", "sesame")
            page.click(".login button[type=submit]")
            page.fill('[data-field="pages"] input', "2")
            page.fill('[data-field="api_key"] input', "${API_KEY}")
            page.click(SUBMIT)
            page.wait_for_url(f"{base_url}/runs/*")  # queued: no worker here
            assert posts[-1]["x-csrf-token"] == page.get_attribute('meta[name="csrf-token"]', "content")
            assert "authorization" not in posts[-1]
        assert not [line for line in console if "Content Security Policy" in line]
    finally:
        stack.close()
    assert [(r["status"], r["params"]["api_key"]) for r in stack.hv.store.list_runs()] == [("queued", "${API_KEY}")]


def test_the_form_sends_json_types_leaves_empty_fields_out_and_catches_bad_json_before_sending(page, tmp_path):
    hv = make_harvester(tmp_path / "demo")
    bodies: list[dict[str, object]] = []
    page.on("request", lambda request: bodies.append(request.post_data_json) if request.method == "POST" else None)
    try:
        with serve(create_app(hv)) as base_url:
            page.goto(base_url + "/collectors/github_issues/trigger")
            page.fill('[data-field="repo"] input', "python/cpython")
            page.select_option('[data-field="state"] select', label="all")
            page.fill('[data-field="max_pages"] input', "2")
            page.check('[data-field="include_prs"] input')
            page.fill('[data-field="labels"] textarea', '["type-bug", ')
            page.fill('[data-field="token"] input', "${GITHUB_TOKEN}")
            page.click(SUBMIT)
            expect(field(page, "labels").locator(".field-error")).to_contain_text("This is not valid JSON")
            assert bodies == []  # caught in the page: nothing was sent
            page.fill('[data-field="labels"] textarea', '["type-bug", "os-linux"]')
            page.click(SUBMIT)
            page.wait_for_url(f"{base_url}/runs/*")
            expect(page.locator("h1")).to_contain_text("github_issues")
    finally:
        hv.close()
    params = {
        "repo": "python/cpython",
        "state": "all",
        "max_pages": 2,  # a number, not "2": the API takes JSON types strictly
        "include_prs": True,
        "labels": ["type-bug", "os-linux"],
        "token": "${GITHUB_TOKEN}",
    }  # since was left empty: left out, its default applies
    assert bodies == [{"collector": "github_issues", "params": params, "async_mode": True, "force": False}]


@pytest.mark.parametrize("width", [375, 1280])
def test_the_form_fits_a_phone_and_a_laptop(browser, tmp_path, width):
    hv = make_harvester(tmp_path / "demo")
    phone = width < 500
    context = browser.new_context(viewport={"width": width, "height": 740}, is_mobile=phone, has_touch=phone)
    page = context.new_page()
    try:
        with serve(create_app(hv)) as base_url:
            page.goto(base_url + "/collectors/github_issues/trigger")
            page.wait_for_selector("form[data-params-form]")
            assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth")
    finally:
        context.close()
        hv.close()


def test_screenshot_of_the_params_form(browser, tmp_path):
    hv = make_harvester(tmp_path / "demo")
    try:
        with serve(create_app(hv)) as base_url:
            shot = capture(base_url, tmp_path / "img", browser)
    finally:
        hv.close()
    assert shot.name == "params-form.png"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(shot.read_bytes()[16:20], "big") == 1280
