"""Screenshots of the dashboard for the docs: ``python tests/dashboard/screenshots.py`` writes
docs/img/overview.png, docs/img/run-detail.png (a failed run: its logs, its traceback open) and
docs/img/records.png (1280 px wide) from the demo history."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch(playwright):  # type: ignore[no-untyped-def]
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def capture(base_url: str, run_id: str, out: Path, browser) -> list[Path]:  # type: ignore[no-untyped-def]
    """Full-page shots of the overview and of one run (its traceback open), at 1280 px, device scale 1."""
    out.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 800}, timezone_id="UTC")
    shots = []
    for url, name in ((base_url + "/", "overview.png"), (f"{base_url}/runs/{run_id}", "run-detail.png")):
        page.goto(url)
        page.wait_for_selector("main")
        for summary in page.locator(".error-box details.traceback summary").all():
            summary.click()
        path = out / name
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)
    page.close()
    return shots


def capture_records(base_url: str, out: Path, browser) -> Path:  # type: ignore[no-untyped-def]
    """The records view of github_stars searched by a key prefix, one long payload open."""
    out.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 800}, timezone_id="UTC")
    page.goto(f"{base_url}/collectors/github_stars/records?key=python%2F")
    page.locator('tr[data-record="python/cpython"] summary').click()
    path = out / "records.png"
    page.screenshot(path=str(path), full_page=True)
    page.close()
    return path


def main() -> None:
    sys.path.insert(0, str(HERE))
    from dashboard_demo import dashboard_app, make_harvester, seed
    from dashboard_server import serve
    from playwright.sync_api import sync_playwright

    from harvester.history.engine import utcnow

    hv = make_harvester(Path(tempfile.mkdtemp(prefix="harvester-shots-")))
    ids = seed(hv, utcnow())
    with serve(dashboard_app(hv)) as base_url, sync_playwright() as p:
        browser = launch(p)
        shots = capture(base_url, ids["failed"], REPO / "docs" / "img", browser)
        for path in [*shots, capture_records(base_url, REPO / "docs" / "img", browser)]:
            print(path.relative_to(REPO))
        browser.close()
    hv.close()


if __name__ == "__main__":
    main()
