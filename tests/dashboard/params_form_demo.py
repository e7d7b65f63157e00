"""The params form's screenshot for the docs: ``python tests/dashboard/params_form_demo.py`` writes
docs/img/params-form.png (1280 px wide): a realistic collector's form served by the real API app,
after a submit that the API refused for one field (the error shows next to it)."""

from __future__ import annotations

import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

from harvester import Collector, Harvester, Settings
from harvester.registry import Registry

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


class GithubIssues(Collector):
    name = "github_issues"
    description = "Issues and pull requests of one GitHub repository."

    class Params(BaseModel):
        repo: str = Field(description="owner/name, e.g. python/cpython.")
        state: Literal["open", "closed", "all"] = Field("open", description="Which issues to fetch.")
        max_pages: int = Field(ge=1, le=50, description="Stop after this many pages of 100 issues.")
        since: date | None = Field(None, description="Only issues updated on or after this day.")
        include_prs: bool = Field(False, description="Count pull requests as issues too.")
        labels: list[str] = Field(default_factory=list, description="Only issues with all of these labels.")
        token: SecretStr = Field(description="A GitHub token with read access to the repository.")


def make_harvester(folder: Path) -> Harvester:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "schedule.yaml").write_text("groups: {}\n")
    settings = Settings(data_dir=folder / "data", schedule_file=folder / "schedule.yaml", retries=0)
    hv = Harvester(settings, registry=Registry([GithubIssues]))
    hv.store.upgrade()
    return hv


def capture(base_url: str, out: Path, browser) -> Path:  # type: ignore[no-untyped-def]
    """The form of github_issues, filled in, after the API refused ``max_pages`` (422)."""
    out.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(base_url + "/collectors/github_issues/trigger")
    page.fill('[data-field="repo"] input', "python/cpython")
    page.select_option('[data-field="state"] select', label="all")
    page.fill('[data-field="max_pages"] input', "0")
    page.fill('[data-field="labels"] textarea', '["type-bug"]')
    page.fill('[data-field="token"] input', "${GITHUB_TOKEN}")
    page.click("form[data-params-form] button[type=submit]")
    page.wait_for_selector('[data-field="max_pages"] .field-error:not([hidden])')
    page.locator("form[data-params-form] button[type=submit]").blur()
    path = out / "params-form.png"
    page.screenshot(path=str(path), full_page=True)
    page.close()
    return path


def main() -> None:
    sys.path.insert(0, str(HERE))
    from dashboard_server import serve
    from playwright.sync_api import sync_playwright
    from screenshots import launch

    from harvester.api.app import create_app

    hv = make_harvester(Path(tempfile.mkdtemp(prefix="harvester-shots-")))
    with serve(create_app(hv)) as base_url, sync_playwright() as p:
        browser = launch(p)
        print(capture(base_url, REPO / "docs" / "img", browser).relative_to(REPO))
        browser.close()
    hv.close()


if __name__ == "__main__":
    main()
