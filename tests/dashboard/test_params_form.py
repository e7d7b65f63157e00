"""The params form over HTTP (uvicorn + httpx): one input per field of a collector's Params by its
type, defaults, required marks, choices and descriptions; secrets as empty password inputs; "Run
again" filled in with a run's stored params, secrets left empty unless history kept a reference."""

from __future__ import annotations

import enum
import html as htmllib
import re
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Literal

import httpx
import pytest
from dashboard_demo import Seeder, dashboard_app
from dashboard_server import serve
from pydantic import BaseModel, Field, SecretStr

from harvester import Collector, Harvester, Settings
from harvester.dashboard.forms import form_fields
from harvester.history.engine import utcnow
from harvester.registry import Registry


class Region(enum.Enum):
    alps = "alps"
    tatra = "tatra"


class Window(BaseModel):
    days: int = 7


class Everything(Collector):
    name = "everything"
    description = "One param of each kind."

    class Params(BaseModel):
        pages: int = Field(ge=1, le=100, description="How many pages to fetch.")
        ratio: float = Field(0.25, description="Share of pages to sample.")
        dry_run: bool = Field(False, description="Fetch but store nothing.")
        verbose: bool = True
        strict: bool | None = None
        mode: Literal["fast", "thorough"] = Field("fast", description="How hard to look.")
        level: Literal[1, 2, 3] = 2
        region: Region = Region.tatra
        label: str = Field("weekly <report>", description="Shown in the <b>result</b>.")
        note: str | None = None
        since: date | None = None
        tags: list[str] = Field(default_factory=lambda: ["a", "b"], description="Tags to match.")
        window: Window = Field(default_factory=Window)
        api_key: SecretStr = Field(description="Key of the source API.")
        backup_key: SecretStr = SecretStr("fallback-secret-value")


class Bare(Collector):
    name = "bare"
    description = "Takes no params."


def input_of(page: str, name: str) -> str:
    """The HTML of one field's block."""
    start = page.index(f'data-field="{name}"')
    return page[start : page.index("</div>", start)]


@pytest.fixture(scope="module")
def form_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Harvester, dict[str, str], str]]:
    folder = tmp_path_factory.mktemp("form")
    (folder / "schedule.yaml").write_text("groups: {}\n")
    settings = Settings(data_dir=folder / "data", schedule_file=folder / "schedule.yaml", retries=0)
    hv = Harvester(settings, registry=Registry([Everything, Bare]))
    hv.store.upgrade()
    seeder = Seeder(hv, utcnow())
    given = {"pages": 7, "ratio": 0.5, "dry_run": True, "strict": False, "mode": "thorough", "level": 3}
    given |= {"region": "alps", "label": "again", "since": "2026-03-01", "tags": ["x"], "window": {"days": 2}}
    ids = {
        "literal": seeder.run("everything", timedelta(minutes=9), params={**given, "api_key": "hunter2-literal"}),
        "reference": seeder.run(
            "everything", timedelta(minutes=5), params={"pages": 3, "api_key": "${API_KEY}", "backup_key": "${file:/k}"}
        ),
        "bare": seeder.run("bare", timedelta(minutes=4)),
    }
    seeder.save()
    with serve(dashboard_app(hv)) as base_url:
        yield hv, ids, base_url
    hv.close()


@pytest.fixture
def site(form_site: tuple[Harvester, dict[str, str], str]) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    _, ids, base_url = form_site
    with httpx.Client(base_url=base_url, timeout=10) as client:
        yield client, ids


def test_the_form_has_a_field_per_param_in_declaration_order():
    assert [f.name for f in form_fields(Everything)] == list(Everything.Params.model_fields)


def test_each_field_gets_the_input_of_its_type_with_its_default(site):
    client, _ = site
    response = client.get("/collectors/everything/trigger")
    assert response.status_code == 200
    page = response.text
    assert "<h1>Trigger everything</h1>" in page
    assert "One param of each kind." in page
    pages = input_of(page, "pages")
    assert 'type="number"' in pages
    assert 'data-kind="int"' in pages
    assert 'step="1"' in pages
    assert 'min="1"' in pages
    assert 'max="100"' in pages
    assert 'value=""' in pages  # required, no default
    ratio = input_of(page, "ratio")
    assert 'data-kind="float"' in ratio
    assert 'step="any"' in ratio
    assert 'value="0.25"' in ratio
    assert 'type="checkbox"' in input_of(page, "dry_run")
    assert " checked" not in input_of(page, "dry_run")
    assert " checked" in input_of(page, "verbose")
    assert re.search(r'data-kind="text" value="weekly &lt;report&gt;"', input_of(page, "label"))
    assert 'value=""' in input_of(page, "note")
    assert 'type="date"' in input_of(page, "since")
    tags = input_of(page, "tags")
    assert "<textarea" in tags
    assert 'data-kind="json"' in tags
    assert htmllib.unescape(re.search(r">([^<]*)</textarea>", tags, re.S).group(1)) == '[\n  "a",\n  "b"\n]'
    window = input_of(page, "window")
    assert "<textarea" in window
    assert "&#34;days&#34;: 7" in window


def test_choices_are_selects_with_the_default_selected(site):
    client, _ = site
    page = client.get("/collectors/everything/trigger").text

    def options(name: str) -> list[tuple[str, str, bool]]:
        found = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', input_of(page, name))
        return [(htmllib.unescape(value), label, bool(selected)) for value, selected, label in found]

    assert "<select" in input_of(page, "mode")
    assert options("mode") == [('"fast"', "fast", True), ('"thorough"', "thorough", False)]
    assert options("level") == [("1", "1", False), ("2", "2", True), ("3", "3", False)]  # sent as numbers
    assert options("region") == [('"alps"', "alps", False), ('"tatra"', "tatra", True)]  # an Enum, through $ref
    assert options("strict") == [("", "(none)", True), ("true", "true", False), ("false", "false", False)]


def test_required_fields_are_marked_and_descriptions_shown(site):
    client, _ = site
    page = client.get("/collectors/everything/trigger").text
    required = re.findall(r'class="field field-\w+ field-required" data-field="(\w+)"', page)
    assert required == ["pages", "api_key"]
    assert '<span class="required">required</span>' in input_of(page, "pages")
    assert "aria-required=true" in input_of(page, "pages")
    assert "required" not in input_of(page, "ratio")
    assert "How many pages to fetch." in input_of(page, "pages")
    assert "Fetch but store nothing." in input_of(page, "dry_run")
    assert "Shown in the &lt;b&gt;result&lt;/b&gt;." in input_of(page, "label")  # text, never markup
    assert re.search(r'aria-describedby="(param-1)-help \1-error"', input_of(page, "pages"))


def test_secrets_are_empty_password_inputs_with_a_reference_hint(site):
    client, _ = site
    page = client.get("/collectors/everything/trigger").text
    for name in ("api_key", "backup_key"):
        field = input_of(page, name)
        assert 'type="password"' in field
        assert 'value=""' in field
        assert 'autocomplete="new-password"' in field
        assert "<code>${ENV_NAME}</code>" in field
    assert "Key of the source API." in input_of(page, "api_key")
    assert "leave empty for the default" in input_of(page, "backup_key")
    assert "fallback-secret-value" not in page  # a secret's default is never shown either


def test_run_again_fills_in_the_runs_params_but_no_secret(site):
    client, ids = site
    run_page = client.get(f"/runs/{ids['literal']}").text
    link = f'href="/collectors/everything/trigger?run={ids["literal"]}"'
    assert re.search(rf'<a class="button run-again" {re.escape(link)}[^>]*>Run again</a>', run_page)
    page = client.get(f"/collectors/everything/trigger?run={ids['literal']}").text
    assert f'data-source-run="{ids["literal"]}"' in page
    assert "History keeps no secret values: type them again" in page
    assert 'value="7"' in input_of(page, "pages")
    assert 'value="0.5"' in input_of(page, "ratio")
    assert " checked" in input_of(page, "dry_run")
    assert '<option value="false" selected>' in input_of(page, "strict")
    assert '<option value="&#34;thorough&#34;" selected>' in input_of(page, "mode")
    assert '<option value="3" selected>' in input_of(page, "level")
    assert '<option value="&#34;alps&#34;" selected>' in input_of(page, "region")
    assert 'value="again"' in input_of(page, "label")
    assert 'value="2026-03-01"' in input_of(page, "since")
    assert "&#34;days&#34;: 2" in input_of(page, "window")
    assert 'value=""' in input_of(page, "api_key")
    assert "hunter2-literal" not in page
    assert "**********" not in page  # history's mask is not a value to send back


def test_run_again_fills_in_a_secret_history_kept_as_a_reference(site):
    client, ids = site
    page = client.get(f"/collectors/everything/trigger?run={ids['reference']}").text
    assert 'value="${API_KEY}"' in input_of(page, "api_key")
    assert 'value="${file:/k}"' in input_of(page, "backup_key")
    assert "The reference this run was given" in input_of(page, "api_key")
    assert 'value="3"' in input_of(page, "pages")


def test_a_collector_without_params_gets_a_form_with_only_force(site):
    client, ids = site
    page = client.get(f"/collectors/bare/trigger?run={ids['bare']}").text
    assert "bare takes no params." in page
    assert "data-field=" not in page
    assert "data-force" in page


@pytest.mark.parametrize(
    ("path", "title"),
    [
        ("/collectors/nope/trigger", "Unknown collector"),
        ("/collectors/everything/trigger?run=no-such-run", "Run not found"),
        ("/collectors/everything/trigger?run={bare}", "Run not found"),  # a run of another collector
    ],
)
def test_unknown_collector_or_run_is_a_404_page(site, path, title):
    client, ids = site
    response = client.get(path.format(**ids))
    assert response.status_code == 404
    assert f"<h1>{title}</h1>" in response.text


def test_the_form_page_has_no_inline_script_or_style_and_loads_its_script(site):
    client, ids = site
    for path in ("/collectors/everything/trigger", f"/collectors/everything/trigger?run={ids['literal']}"):
        page = client.get(path).text
        assert re.findall(r"<script(?![^>]*\bsrc=)", page) == [], path
        assert re.findall(r"<style|\sstyle=|\son[a-z]+=|data:", page) == [], path
        assert '<script src="/static/params_form.js" defer></script>' in page
    script = client.get("/static/params_form.js")
    assert script.status_code == 200
    assert "X-CSRF-Token" in script.text


def test_the_overview_links_every_collector_to_its_form(site):
    client, _ = site
    page = client.get("/").text
    assert '<a class="button trigger-form" href="/collectors/everything/trigger"' in page  # needs params
    assert 'data-trigger="bare"' in page  # one click still, and a form for chosen params
    assert 'href="/collectors/bare/trigger"' in page
