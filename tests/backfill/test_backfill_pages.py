"""A backfill as one group of runs: its dashboard page (counts, a row per partition, live while
runs are under way), the link from each member's run page, and GET /api/v1/runs?batch=."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from api_support import Client  # tests/api: a synchronous client over ASGI

from harvester import Harvester, Settings
from harvester.api import create_app
from harvester.execution.requests import new_run

BATCH = "backfill:0123456789abcdef01234567"


@pytest.fixture
def hv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)  # where Daily looks for its fail-DAY markers
    made = Harvester(Settings(data_dir=tmp_path / "data", collectors=["backfill_collectors"]))
    made.store.upgrade()
    yield made
    made.close()


@pytest.fixture
def seeded(hv: Harvester, tmp_path: Path) -> dict[str, str]:
    """Days 1 and 2 succeeded, day 3 failed, day 4 is queued; one run of another batch."""
    (tmp_path / "fail-2026-01-03").touch()
    ids = {}
    for day in ("2026-01-02", "2026-01-01", "2026-01-03"):
        ids[day] = hv.run_inline(_request(hv, day)).run_id
    queued = _request(hv, "2026-01-04")
    hv.store.create_runs([new_run(hv.registry, queued)])
    ids["2026-01-04"] = queued.run_id
    hv.run_inline(_request(hv, "2026-01-01", "backfill:other"))
    return ids


def _request(hv: Harvester, day: str, batch: str = BATCH) -> Any:
    return replace(hv.request("daily", {"day": day}, trigger="backfill"), batch_id=batch)


@pytest.fixture
def client(hv: Harvester) -> Any:
    made = Client(create_app(hv))
    yield made
    made.close()


def test_the_backfill_page_shows_counts_and_a_row_per_partition(client, seeded):
    page = client.get(f"/backfills/{BATCH}")
    assert page.status_code == 200
    html = page.text
    assert "Backfill of daily" in html
    assert '<dd data-count="succeeded">2</dd>' in html
    assert '<dd data-count="failed">1</dd>' in html
    assert '<dd data-count="not-ended">1</dd>' in html
    rows = [html.index(f'data-partition="2026-01-0{d}"') for d in (1, 2, 3, 4)]
    assert rows == sorted(rows)  # in partition order
    assert "no data for 2026-01-03" in html
    assert f'href="/runs/{seeded["2026-01-03"]}"' in html
    assert f'data-live="/fragments/backfills/{BATCH}"' in html  # a run has not ended: the page refreshes
    fragment = client.get(f"/fragments/backfills/{BATCH}")
    assert fragment.status_code == 200
    assert "data-live-done" not in fragment.text


def test_a_member_s_run_page_links_to_its_backfill(client, seeded):
    html = client.get(f"/runs/{seeded['2026-01-01']}").text
    assert f'href="/backfills/{BATCH}"' in html


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("batch", ["backfill:nothing", "20260101T000000.000000Z-1a2b3c4d", "backfill:%00"])
def test_an_unknown_backfill_is_a_404_page(client, batch):
    page = client.get(f"/backfills/{batch}")
    assert page.status_code == 404
    assert "Backfill not found" in page.text


@pytest.mark.usefixtures("seeded")
def test_the_api_lists_the_runs_of_a_batch(client):
    items = client.get("/api/v1/runs", params={"batch": BATCH}).json()["items"]
    assert sorted(i["params"]["day"] for i in items) == ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"]
    assert {i["batch_id"] for i in items} == {BATCH}
    failed = client.get("/api/v1/runs", params={"batch": BATCH, "status": "failed"}).json()["items"]
    assert [i["params"]["day"] for i in failed] == ["2026-01-03"]
    assert client.get("/api/v1/runs", params={"batch": "backfill:none"}).json()["items"] == []
    assert client.get("/api/v1/runs", params={"batch": "x" * 65}).status_code == 422
