"""Dashboard fixtures: the demo history served by uvicorn on a free port (once per module), httpx,
and headless Chromium (skipped when absent unless HARVESTER_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from dashboard_demo import dashboard_app, make_harvester, seed
from dashboard_server import serve
from screenshots import CHROMIUM, launch

from harvester import Harvester
from harvester.history.engine import utcnow


class Demo:
    """A Harvester over the demo collectors with a day of seeded history, served over HTTP."""

    def __init__(self, hv: Harvester, ids: dict[str, str], now: datetime, base_url: str) -> None:
        self.hv = hv
        self.ids = ids
        self.now = now
        self.base_url = base_url


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    hv = make_harvester(tmp_path_factory.mktemp("demo"))
    now = utcnow()
    ids = seed(hv, now)
    with serve(dashboard_app(hv)) as base_url:
        yield Demo(hv, ids, now, base_url)
    hv.close()


@pytest.fixture
def http(demo: Demo) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo.base_url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium driven by Playwright (a fresh user-data-dir per launch)."""
    if not Path(CHROMIUM).exists():
        message = f"Chromium is not installed at {CHROMIUM}"
        if os.environ.get("HARVESTER_REQUIRE_SERVICES") == "1":
            pytest.fail(message + "; HARVESTER_REQUIRE_SERVICES=1 makes this a failure")
        pytest.skip(message)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)  # a loaded CI machine; the page refreshes every 2.5 s

    with sync_playwright() as playwright:
        launched = launch(playwright)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    made = context.new_page()
    made.set_default_timeout(15_000)
    yield made
    context.close()
