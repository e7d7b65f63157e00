"""Where a waiting run and the limits show: ``harvester runs`` and ``runs show``, the API's run, the
run page, and ``/metrics``."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from harvester import Harvester, Settings
from harvester.api import create_app
from harvester.cli import cli
from harvester.history.engine import utcnow
from harvester.history.rate_limits import set_waiting_for
from harvester.history.store import NewRun
from harvester.ratelimit.bucket import Rate


@pytest.fixture
def hv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Harvester]:
    monkeypatch.setenv("HARVESTER_COLLECTORS", "sample_collectors")
    monkeypatch.setenv("HARVESTER_DATA_DIR", str(tmp_path / "data"))
    made = Harvester(Settings(data_dir=tmp_path / "data", collectors=["sample_collectors"]))
    made.store.upgrade()
    yield made
    made.close()


@pytest.fixture
def waiting(hv: Harvester) -> str:
    """A running run that waits for tokens of ``github``."""
    run_id = str(uuid.uuid4())
    hv.store.create_runs([NewRun(run_id=run_id, collector="ok", params={}, params_key="k", trigger="api")])
    hv.store.claim(run_id, stale_before=utcnow())
    set_waiting_for(hv.store, run_id, "rate limit github")
    return run_id


def _get(hv: Harvester, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(hv))

    async def fetch() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.get(path)

    return asyncio.run(fetch())


def test_runs_and_runs_show_say_what_a_run_waits_for(hv, waiting):
    listed = CliRunner().invoke(cli, ["runs"], env={"COLUMNS": "200"})
    assert "waiting: rate limit github" in listed.output
    shown = CliRunner().invoke(cli, ["runs", "show", waiting, "--json"])
    assert json.loads(shown.output)["waiting_for"] == "rate limit github"
    as_json = CliRunner().invoke(cli, ["runs", "--json"])
    assert json.loads(as_json.output)[0]["waiting_for"] == "rate limit github"


def test_the_api_and_the_run_page_say_what_a_run_waits_for(hv, waiting):
    assert _get(hv, f"/api/v1/runs/{waiting}").json()["waiting_for"] == "rate limit github"
    page = _get(hv, f"/runs/{waiting}")
    assert page.status_code == 200
    assert "waiting: rate limit github" in page.text


def test_metrics_count_tokens_and_waits_per_limit(hv):
    hv.limiter.bucket.take("github", Rate(1, 86400.0), 1)
    hv.limiter.bucket.record_wait("github", 0.25)
    found = {
        (s.name, tuple(s.labels.values())): s.value
        for family in text_string_to_metric_families(_get(hv, "/metrics").text)
        for s in family.samples
    }
    assert found["harvester_rate_limit_tokens_total", ("github",)] == 1
    assert found["harvester_rate_limit_waits_total", ("github",)] == 1
    assert found["harvester_rate_limit_wait_seconds_total", ("github",)] == 0.25


def test_metrics_stand_when_the_buckets_store_fails(hv, monkeypatch, caplog):
    def refuse():
        raise ConnectionError("no answer")

    monkeypatch.setattr(hv.limiter.bucket, "stats", refuse)
    with caplog.at_level(logging.WARNING):
        answer = _get(hv, "/metrics")
    assert answer.status_code == 200
    assert "harvester_runs_total" in answer.text
    assert "harvester_rate_limit" not in answer.text
    assert "rate limits: their store did not answer (ConnectionError)" in caplog.text
