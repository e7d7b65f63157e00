"""The dashboard's pages over HTTP (uvicorn + httpx): status codes, content, filters, pagination,
404 for an unknown run, redaction and escaping."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from dashboard_demo import Seeder, dashboard_app, make_harvester, seed
from dashboard_server import serve

from harvester.dashboard.routes import PAGE_SIZE
from harvester.history.engine import utcnow


def rows(html: str, attribute: str) -> list[str]:
    return re.findall(rf'<tr {attribute}="([^"]+)"', html)


def collector_row(html: str, name: str) -> str:
    """The HTML of one collector's row on the overview."""
    start = html.index(f'<tr data-collector="{name}">')
    return html[start : html.index("</tr>", start)]


def test_overview_lists_every_collector_with_schedule_status_and_freshness(http):
    response = http.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert rows(html, "data-collector") == [
        "customer_invoices",
        "exchange_rates",
        "github_stars",
        "invoices",
        "search_index_sync",
        "sitemap_crawl",
        "weather_stations",
    ]
    weather = collector_row(html, "weather_stations")
    assert "every 10m" in weather
    assert 'class="badge fresh-stale">stale<' in weather  # failing for 55 minutes, freshness 30m
    assert 'class="badge status-failed">failed<' in weather
    assert "60%" in weather  # 9 of the 15 finished runs of the last 24 h succeeded
    assert 'data-trigger="weather_stations"' in weather
    stars = collector_row(html, "github_stars")
    assert "hourly" in stars
    assert "fresh" in stars
    assert "in " in stars
    assert 'class="badge status-running"' in stars
    assert "never run" in collector_row(html, "sitemap_crawl")
    assert "not scheduled" in collector_row(html, "search_index_sync")


def test_the_bar_shows_the_latest_runs_oldest_first(http, demo):
    weather = collector_row(http.get("/").text, "weather_stations")
    bars = re.findall(r'class="bar status-(\w+)"', weather)
    assert len(bars) == 15
    assert bars[-6:] == ["failed"] * 6  # the newest: the failing streak
    assert bars[0] == "succeeded"
    assert f'href="/runs/{demo.ids["failed"]}"' in weather


def test_collectors_that_need_params_get_a_trigger_that_opens_the_params_form(http):
    html = http.get("/").text
    row = collector_row(html, "search_index_sync")
    assert "data-trigger=" not in row  # no one-click trigger without its params
    assert 'href="/collectors/search_index_sync/trigger"' in row
    assert "Needs params: index" in row
    assert 'data-trigger="invoices"' in collector_row(html, "invoices")


def test_overview_summary_and_recent_runs(http):
    html = http.get("/").text
    assert "need attention" in html
    assert 'title="weather_stations"' in html  # the one collector needing attention
    assert len(rows(html, "data-run")) == 10


def test_overview_fragment_is_the_live_part_without_the_frame(http):
    fragment = http.get("/fragments/overview")
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert 'class="topbar"' not in fragment.text
    assert rows(fragment.text, "data-collector") == rows(http.get("/").text, "data-collector")
    assert fragment.headers["cache-control"] == "no-store"


def test_run_list_pages_newest_first(http, demo):
    first = http.get("/runs")
    assert first.status_code == 200
    everything = [r["id"] for r in demo.hv.store.list_runs(limit=10_000)]
    assert f"{PAGE_SIZE} newest runs of {len(everything)}" in first.text
    assert 'rel="first"' not in first.text
    assert rows(first.text, "data-run") == everything[:PAGE_SIZE]
    seen = []
    page = first.text
    while (older := re.search(r'rel="next" href="(/runs\?before=[^"]+)"', page)) is not None:
        page = http.get(older.group(1)).text
        assert 'rel="first" href="/runs"' in page
        seen.extend(rows(page, "data-run"))
    assert seen == everything[PAGE_SIZE:]
    assert "older runs of" in page


def test_an_older_page_stays_put_while_new_runs_arrive(tmp_path):
    hv = make_harvester(tmp_path)  # its own history: this test adds a run
    seed(hv, utcnow())
    with serve(dashboard_app(hv)) as base_url, httpx.Client(base_url=base_url) as client:
        older = re.search(r'rel="next" href="/runs\?before=([^"]+)"', client.get("/runs").text).group(1)
        before = rows(client.get("/fragments/runs", params={"before": older}).text, "data-run")
        seeder = Seeder(hv, utcnow())
        seeder.run("sitemap_crawl", timedelta(0), "queued")
        seeder.save()
        after = client.get("/fragments/runs", params={"before": older}).text
    assert rows(after, "data-run") == before
    assert f"of {len(hv.store.list_runs(limit=10_000))}" in after  # the total moved on
    hv.close()


def test_a_broken_page_link_is_a_400_not_a_500(http):
    response = http.get("/runs", params={"before": "not-a-cursor"})
    assert response.status_code == 400
    assert "start from the newest runs" in response.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"collector": "weather_stations", "status": "failed"}, ("weather_stations", "failed")),
        ({"collector": "exchange_rates"}, ("exchange_rates", None)),
        ({"status": "running"}, (None, "running")),
    ],
)
def test_run_list_filters(http, demo, query, expected):
    collector, status = expected
    html = http.get("/runs", params=query).text
    ids = rows(html, "data-run")
    assert ids
    for run_id in ids:
        run = demo.hv.store.get_run(run_id)
        assert collector in (None, run["collector"])
        assert status in (None, run["status"])
    assert ids == [r["id"] for r in demo.hv.store.list_runs(collector=collector, status=status, limit=PAGE_SIZE)]
    if collector:
        assert f'<option value="{collector}" selected>' in html
    # the live region re-fetches the same filters
    fragment = http.get("/fragments/runs", params=query)
    assert rows(fragment.text, "data-run") == ids


def test_run_list_with_an_unknown_status_says_which_are_known(http):
    response = http.get("/runs", params={"status": "exploded"})
    assert response.status_code == 400
    assert "Unknown status &#39;exploded&#39;" in response.text
    assert "succeeded" in response.text
    assert http.get("/fragments/runs", params={"status": "exploded"}).status_code == 400


def test_empty_filters_mean_no_filter(http):
    html = http.get("/runs", params={"collector": "", "status": "", "before": ""}).text
    assert len(rows(html, "data-run")) == PAGE_SIZE


def test_failed_run_detail_shows_error_timings_attempts_and_redacted_params(http, demo):
    response = http.get(f"/runs/{demo.ids['failed']}")
    assert response.status_code == 200
    html = response.text
    assert 'class="badge status-failed">failed<' in html
    assert "upstream answered 503 Service Unavailable" in html
    assert "in phase <strong>collect</strong>" in html
    assert ">network<" in html
    for label in ("Queued", "Started", "Finished", "Duration"):
        assert f"<dt>{label}</dt>" in html
    assert "31.8 s" in html
    assert "read timed out after 30 s" in html  # attempt 1
    assert html.count('data-label="Attempt"') == 3
    assert "&#34;api_key&#34;: &#34;**********&#34;" in html
    assert "demo-key" not in html
    assert "data-live=" not in html  # finished: nothing left to refresh


def test_fan_out_parent_links_its_children_and_children_link_back(http, demo):
    parent = demo.ids["parent"]
    html = http.get(f"/runs/{parent}").text
    assert "Child runs" in html
    children = rows(html, "data-run")
    assert len(children) == 3
    assert "&#34;open_invoices&#34;" in html  # the gathered result, pretty-printed
    assert "3 member runs" in html
    assert [demo.hv.store.get_run(c)["params"]["customer"] for c in children] == ["acme", "globex", "initech"]
    child = http.get(f"/runs/{children[1]}").text
    assert "(member 2)" in child
    assert f'href="/runs/{parent}"' in child
    assert "Parent run" in child


def test_retried_run_lists_both_attempts(http, demo):
    html = http.get(f"/runs/{demo.ids['retried']}").text
    assert "429 Too Many Requests" in html
    assert "retry in 2.00 s" in html
    assert html.count('data-label="Attempt"') == 2


def test_running_run_refreshes_itself(http, demo):
    running = demo.hv.store.list_runs(status="running", limit=1)[0]
    html = http.get(f"/runs/{running['id']}").text
    assert f'data-live="/fragments/runs/{running["id"]}"' in html
    assert "running since" in html
    assert '<progress value="9" max="24">' in html
    fragment = http.get(f"/fragments/runs/{running['id']}")
    assert fragment.status_code == 200
    assert "data-live-done" not in fragment.text


def test_unknown_run_is_a_404_page(http):
    for url in ("/runs/no-such-run", "/fragments/runs/no-such-run"):
        response = http.get(url)
        assert response.status_code == 404
        assert "Run not found" in response.text
        assert "no-such-run" in response.text


def test_static_files_and_no_front_end_from_elsewhere(http):
    html = http.get("/").text
    assert re.findall(r'(?:src|href)="(https?:)?//', html) == []  # no CDN: the network may be closed
    css = http.get("/static/dashboard.css")
    assert css.status_code == 200
    assert "text/css" in css.headers["content-type"]
    js = http.get("/static/dashboard.js")
    assert js.status_code == 200
    assert "X-CSRF-Token" in js.text
    assert "sessionStorage" not in js.text  # no token kept where page scripts could read it
    icon = http.get("/static/favicon.svg")
    assert icon.status_code == 200
    assert "image/svg+xml" in icon.headers["content-type"]


def test_pages_have_no_inline_script_or_style(http, demo):
    """What lets the API's Content-Security-Policy (default-src 'self') stay strict."""
    for path in ("/", "/runs", f"/runs/{demo.ids['failed']}", "/runs/no-such-run"):
        html = http.get(path).text
        assert re.findall(r"<script(?![^>]*\bsrc=)", html) == [], path
        assert re.findall(r"<style|\sstyle=|\son[a-z]+=|data:", html) == [], path


def test_dashboard_stays_out_of_the_openapi_schema(http):
    assert http.get("/openapi.json").json()["paths"] == {}
