"""The run page's logs and Cancel button, the records view and the times of the dashboard over HTTP
(uvicorn + httpx): content, live fragments, paging, 404 and 400 pages, zones, secrets, escaping."""

from __future__ import annotations

import html as htmllib
import logging
import re
from datetime import timedelta

import httpx
import pytest
from dashboard_demo import COLLECTORS, SCHEDULE, Seeder, dashboard_app, make_harvester, seed
from dashboard_server import serve
from sample_collectors import Chatty

from harvester.dashboard import routes
from harvester.dashboard.logs import LOG_LINES
from harvester.history.engine import utcnow
from harvester.history.run_logs import LogLine
from harvester.registry import Registry


def log_lines(html: str) -> list[str]:
    return re.findall(r'<li class="log-line level-\w+" data-log="(\d+)">', html)


def record_keys(html: str) -> list[str]:
    return [htmllib.unescape(k) for k in re.findall(r'<tr data-record="([^"]*)">', html)]


# -- logs -----------------------------------------------------------------------------------------


def test_a_failed_run_shows_its_log_lines_with_attempt_level_logger_and_traceback(http, demo):
    html = http.get(f"/runs/{demo.ids['failed']}").text
    assert "<h2>Logs" in html
    assert len(log_lines(html)) == 8
    assert "8 lines" in html
    assert 'class="log-line level-error"' in html
    assert '<span class="log-level">WARNING</span>' in html
    assert '<span class="log-attempt" title="attempt 3">#3</span>' in html
    assert "urllib3.connectionpool" in html
    # the traceback logged with the error, preformatted as it was logged
    message = re.search(r'<pre class="log-message">(request failed\n.*?)</pre>', html, re.S)
    assert message is not None
    assert "File &#34;/srv/collectors/weather.py&#34;, line 91, in fetch\n    response.raise_for_status()" in message[1]
    assert "Only the newest" not in html


def test_only_the_newest_lines_show_with_a_note_and_the_commands_for_all(tmp_path):
    hv = make_harvester(tmp_path)
    seeder = Seeder(hv, utcnow())
    run_id = seeder.run("sitemap_crawl", timedelta(minutes=1), "running", duration=None)
    seeder.save()
    now = utcnow()
    total = LOG_LINES + 50
    hv.store.append_logs(
        run_id, 1, [LogLine(now, "INFO", "harvester.collector.sitemap_crawl", f"page {n}") for n in range(total)]
    )
    with serve(dashboard_app(hv)) as base_url:
        html = httpx.get(f"{base_url}/runs/{run_id}").text
    hv.close()
    messages = re.findall(r'<pre class="log-message">page (\d+)</pre>', html)
    assert [int(m) for m in messages] == list(range(50, total))  # the newest, oldest first
    assert f"the newest {LOG_LINES} of {total} lines" in html
    assert f"<code>harvester runs logs {run_id}</code>" in html
    assert f"<code>GET /api/v1/runs/{run_id}/logs</code>" in html


def test_a_running_run_s_new_lines_come_with_its_live_fragment(tmp_path):
    hv = make_harvester(tmp_path)
    seeder = Seeder(hv, utcnow())
    run_id = seeder.run("sitemap_crawl", timedelta(seconds=5), "running", duration=None)
    seeder.save()
    with serve(dashboard_app(hv)) as base_url:
        page = httpx.get(f"{base_url}/runs/{run_id}").text
        assert "Nothing logged yet." in page
        assert f'data-live="/fragments/runs/{run_id}"' in page
        hv.store.append_logs(
            run_id, 1, [LogLine(utcnow(), "INFO", "harvester.collector.sitemap_crawl", "fetched sitemap.xml")]
        )
        fragment = httpx.get(f"{base_url}/fragments/runs/{run_id}").text
    hv.close()
    assert "fetched sitemap.xml" in fragment
    assert len(log_lines(fragment)) == 1
    assert 'id="log-box"' in fragment  # the box the script keeps scrolled across refreshes


def test_a_real_run_s_logs_show_and_its_secret_never_does(tmp_path, caplog):
    caplog.set_level(logging.INFO)  # runs log at the level logging is set to (HARVESTER_LOG_LEVEL)
    hv = make_harvester(tmp_path)
    hv.registry = Registry([*COLLECTORS, Chatty])
    result = hv.run_inline(hv.request("chatty", {"api_key": "s3cret-log-key", "fail": True}))
    assert result.status == "failed"
    with serve(dashboard_app(hv)) as base_url:
        html = httpx.get(f"{base_url}/runs/{result.run_id}").text
    hv.close()
    assert "starting with key **********" in html
    assert "GET https://example.invalid/items -&gt; 200" in html
    assert "machinery, not the run&#39;s" not in html  # harvester's own lines stay in the process log
    assert "KeyError: &#39;currency&#39;" in html  # the logged exception's traceback
    assert "s3cret-log-key" not in html


def test_log_text_is_escaped(tmp_path):
    hv = make_harvester(tmp_path)
    seeder = Seeder(hv, utcnow())
    run_id = seeder.run("sitemap_crawl", timedelta(minutes=1), "failed")
    seeder.save()
    hostile = '<script>alert("x")</script>'
    hv.store.append_logs(run_id, 1, [LogLine(utcnow(), "ERROR", hostile, hostile)])
    with serve(dashboard_app(hv)) as base_url:
        html = httpx.get(f"{base_url}/runs/{run_id}").text
    hv.close()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


# -- cancel ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["queued", "retrying", "running", "waiting"])
def test_a_run_that_has_not_ended_has_a_cancel_button(tmp_path, status):
    hv = make_harvester(tmp_path)
    seeder = Seeder(hv, utcnow())
    run_id = seeder.run("sitemap_crawl", timedelta(seconds=5), status, duration=None)
    seeder.save()
    with serve(dashboard_app(hv)) as base_url:
        html = httpx.get(f"{base_url}/runs/{run_id}").text
    hv.close()
    button = re.search(r"<button [^>]*data-cancel=[^>]*>Cancel</button>", html)
    assert button is not None
    assert f'data-cancel-url="/api/v1/runs/{run_id}/cancel"' in button[0]
    assert 'data-collector="sitemap_crawl"' in button[0]


def test_a_finished_run_has_no_cancel_button(http, demo):
    assert "data-cancel=" not in http.get(f"/runs/{demo.ids['failed']}").text


def test_a_cancelled_run_is_shown_as_cancelled_everywhere(tmp_path):
    hv = make_harvester(tmp_path)
    seeder = Seeder(hv, utcnow())
    run_id = seeder.run("sitemap_crawl", timedelta(minutes=2), "queued")
    seeder.save()
    assert hv.store.cancel(run_id).recorded
    with serve(dashboard_app(hv)) as base_url, httpx.Client(base_url=base_url) as client:
        page = client.get(f"/runs/{run_id}").text
        overview = client.get("/").text
        runs = client.get("/runs", params={"status": "cancelled"}).text
        css = client.get("/static/dashboard.css").text
    hv.close()
    assert 'class="badge status-cancelled">cancelled<' in page
    assert "before it started" in page
    assert "cancelled by a user" in page
    assert "data-cancel=" not in page
    assert "data-live=" not in page
    assert 'class="bar status-cancelled"' in overview
    assert '<option value="cancelled" selected>' in runs
    assert re.findall(r'<tr data-run="([^"]+)"', runs) == [run_id]
    assert ".badge.status-cancelled" in css
    assert ".bar.status-cancelled" in css


# -- records --------------------------------------------------------------------------------------


def test_records_of_a_collector_newest_first_with_run_links_and_pretty_payloads(http, demo):
    response = http.get("/collectors/exchange_rates/records")
    assert response.status_code == 200
    html = response.text
    assert record_keys(html) == ["GBP", "JPY", "SEK", "NOK", "USD", "CHF", "PLN"]
    usd = html[html.index('<tr data-record="USD">') : html.index("</tr>", html.index('<tr data-record="USD">'))]
    assert (
        '<pre class="json">{\n  &#34;currency&#34;: &#34;USD&#34;,\n  &#34;base&#34;: &#34;EUR&#34;,' in usd
    )  # its order
    run_id = re.search(r'href="/runs/([^"]+)"', usd)[1]
    assert demo.hv.store.get_run(run_id)["collector"] == "exchange_rates"
    assert "<time " in usd
    assert "7 newest records" in html
    assert 'rel="next"' not in html


def test_long_payloads_are_collapsed(http):
    html = http.get("/collectors/github_stars/records").text
    assert record_keys(html)[0] == "python/cpython"
    assert html.count('<details class="payload-details"') == 4
    assert "<summary><code>{&#34;repository&#34;: &#34;python/cpython&#34;, &#34;stars&#34;: 61000" in html


def test_records_search_by_key_prefix(http):
    html = http.get("/collectors/github_stars/records", params={"key": "python/"}).text
    assert record_keys(html) == ["python/cpython", "python/mypy", "python/typeshed"]
    assert 'value="python/"' in html
    assert 'href="/collectors/github_stars/records">Clear<' in html
    none = http.get("/collectors/github_stars/records", params={"key": "%"}).text  # a plain character
    assert record_keys(none) == []
    assert "has a key starting with <code>%</code>" in none


def test_records_page_older_with_the_search_kept(http, monkeypatch):
    monkeypatch.setattr(routes, "RECORDS_PAGE_SIZE", 2)
    first = http.get("/collectors/exchange_rates/records").text
    assert record_keys(first) == ["GBP", "JPY"]
    seen = []
    page = first
    while (older := re.search(r'rel="next" href="([^"]+)"', page)) is not None:
        page = http.get(htmllib.unescape(older[1])).text
        assert 'rel="first" href="/collectors/exchange_rates/records"' in page
        seen.extend(record_keys(page))
    assert seen == ["SEK", "NOK", "USD", "CHF", "PLN"]
    searched = http.get("/collectors/github_stars/records", params={"key": "python/"}).text
    link = htmllib.unescape(re.search(r'rel="next" href="([^"]+)"', searched)[1])
    assert "key=python%2F" in link
    assert record_keys(http.get(link).text) == ["python/typeshed"]


def test_records_of_an_unknown_collector_is_a_404_and_a_bad_cursor_a_400(http):
    missing = http.get("/collectors/no_such/records")
    assert missing.status_code == 404
    assert "Collector not found" in missing.text
    assert "no_such" in missing.text
    broken = http.get("/collectors/exchange_rates/records", params={"before": "not-a-cursor"})
    assert broken.status_code == 400
    assert "start from the newest records" in broken.text


def test_a_collector_without_records_says_so(http):
    html = http.get("/collectors/sitemap_crawl/records").text
    assert "sitemap_crawl has emitted no records yet" in html


def test_records_are_linked_from_the_overview_and_the_run_page(http, demo):
    overview = http.get("/").text
    assert 'href="/collectors/weather_stations/records"' in overview
    assert 'href="/collectors/weather_stations/records"' in http.get(f"/runs/{demo.ids['failed']}").text


# -- times ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/runs", "run", "/collectors/exchange_rates/records"])
def test_every_time_carries_its_utc_instant_for_the_script_and_the_hover(http, demo, path):
    html = http.get(f"/runs/{demo.ids['failed']}" if path == "run" else path).text
    times = re.findall(r"<time [^>]*>[^<]*</time>", html)
    assert times
    for tag in times:
        assert re.search(r'datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"', tag), tag
        assert re.search(r'title="\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"', tag), tag
    assert "+00:00" not in "".join(times)


def test_next_run_is_shown_in_the_schedule_s_zone_named(tmp_path):
    hv = make_harvester(tmp_path, SCHEDULE.replace("timezone: UTC", "timezone: Europe/Berlin"))
    seed(hv, utcnow())
    with serve(dashboard_app(hv)) as base_url:
        html = httpx.get(base_url).text
    hv.close()
    assert '<span class="th-zone"' in html
    assert ">Europe/Berlin</span>" in html
    rates = html[html.index('<tr data-collector="exchange_rates">') :]
    zoned = re.search(r'<div class="zone-time">(\d{4}-\d\d-\d\d) 16:30 Europe/Berlin</div>', rates)
    assert zoned is not None  # daily at 16:30 in the schedule's zone, whatever UTC says


def test_new_pages_have_no_inline_script_or_style(http, demo):
    for path in ("/collectors/github_stars/records", "/collectors/nope/records", f"/runs/{demo.ids['failed']}"):
        html = http.get(path).text
        assert re.findall(r"<script(?![^>]*\bsrc=)", html) == [], path
        assert re.findall(r"<style|\sstyle=|\son[a-z]+=|data:", html) == [], path
