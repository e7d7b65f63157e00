"""The API while PostgreSQL does not answer: 503 with a JSON body naming the history database."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from api_support import Client
from faults import TcpProxy

from harvester import Harvester, Settings
from harvester.api import create_app

pytestmark = [pytest.mark.services]


@pytest.fixture
def pg_proxy(postgres_url):
    """A proxy in front of the test run's PostgreSQL (the shared server itself is never stopped)."""
    parts = urlsplit(postgres_url)
    with TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        yield proxy


def test_database_outage_answers_503_naming_the_database(tmp_path, pg_proxy, postgres_url):
    hv = Harvester(Settings(data_dir=tmp_path / "data", database_url=pg_proxy.url_for(postgres_url)))
    hv.store.upgrade()
    try:
        client = Client(create_app(hv))
        try:
            assert client.get("/api/v1/runs").status_code == 200
            pg_proxy.refuse()
            answer = client.get("/api/v1/runs")
            assert answer.status_code == 503
            assert answer.headers["retry-after"] == "5"
            detail = answer.json()["detail"]
            assert detail.startswith(f"the history database (postgresql at 127.0.0.1:{pg_proxy.port}) is unavailable")
            assert "postgres@" not in detail
            pg_proxy.forward()
            assert client.get("/api/v1/runs").status_code == 200
        finally:
            client.close()
    finally:
        hv.close()


def test_triggers_while_the_database_refuses_are_each_answered_503_and_none_is_sent(tmp_path, pg_proxy, postgres_url):
    from api_support import InlineWorkers, make_settings
    from test_trigger_batches import post_together

    hv = Harvester(make_settings(tmp_path, database_url=pg_proxy.url_for(postgres_url)))
    hv.store.upgrade()
    workers = InlineWorkers(hv)
    hv.__dict__["dispatcher"] = workers  # records what is sent
    try:
        app = create_app(hv)
        pg_proxy.refuse()
        answers = post_together(app, [{"collector": "ok"}] * 5)
        assert [a.status_code for a in answers] == [503] * 5
        assert all(a.json()["detail"].startswith("the history database (postgresql at ") for a in answers)
        assert workers.sent == []  # nothing is sent that is not recorded
        pg_proxy.forward()
        answers = post_together(app, [{"collector": "ok"}] * 5)
        assert [a.status_code for a in answers] == [202] * 5
        assert sorted(r.run_id for r in workers.sent) == sorted(a.json()["run_id"] for a in answers)
    finally:
        hv.close()
