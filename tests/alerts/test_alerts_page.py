"""The dashboard's Alerts page: incidents (open and resolved) and each delivery with its attempts."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI

from harvester import Harvester, Settings
from harvester.alerts.config import WebhookTarget
from harvester.alerts.delivery import Deliverer, DeliveryPolicy
from harvester.dashboard.routes import mount
from harvester.history.alerts import AlertStore
from harvester.history.engine import utcnow

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboard"))
from dashboard_server import serve


def test_the_alerts_page_lists_incidents_and_every_delivery_attempt(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", alert_targets={"ops": {"kind": "webhook", "url": "http://x"}})
    hv = Harvester(settings)
    hv.store.upgrade()
    alerts = AlertStore(hv.store)
    now = utcnow()
    incident = {
        "key": "run_failed:stars:p",
        "kind": "run_failed",
        "subject": "stars <b>",
        "summary": "stars failed (upstream): HTTP 503",
        "opened_at": now - timedelta(minutes=5),
        "resolved_at": None,
        "detail": {},
        "targets": ["ops"],
    }

    def build(incident_id: int) -> list[dict]:
        return [
            {
                "id": "d-1234567890",
                "incident_id": incident_id,
                "event": "run_failed",
                "target": "ops",
                "payload": {"id": "d-1234567890"},
                "status": "pending",
                "attempts": 0,
                "created_at": now,
                "next_attempt_at": now,
            }
        ]

    alerts.open_incident(incident, build)
    answers = iter(["HTTP 500", None])

    def sender(config, alert, timeout):
        error = next(answers)
        if error:
            from harvester.alerts.targets import DeliveryError

            raise DeliveryError(error)

    deliverer = Deliverer(alerts, {"ops": WebhookTarget(kind="webhook", url="http://x")}, DeliveryPolicy(), sender)
    deliverer.deliver_due(now)
    deliverer.deliver_due(now + timedelta(hours=2))
    app = FastAPI()
    mount(app, hv)
    with serve(app) as base_url, httpx.Client(base_url=base_url, timeout=10) as client:
        html = client.get("/alerts").text
        overview = client.get("/").text
    hv.close()
    assert 'href="/alerts" class="active">Alerts</a>' in html
    assert 'href="/alerts" class="">Alerts</a>' in overview  # in every page's navigation
    assert "1 open incident" in html
    assert "stars &lt;b&gt;" in html  # escaped
    assert "stars failed (upstream): HTTP 503" in html
    assert 'data-delivery="d-1234567890"' in html
    assert "HTTP 500" in html
    assert ">delivered<" in html


def test_metrics_count_alerts_by_target_and_outcome(tmp_path):
    from harvester.api.alert_metrics import alert_metrics
    from harvester.history.alerts import DELIVERED, GAVE_UP

    hv = Harvester(Settings(data_dir=tmp_path / "data"))
    hv.store.upgrade()
    alerts = AlertStore(hv.store)
    now = utcnow()
    for n, status in enumerate([DELIVERED, DELIVERED, GAVE_UP, "pending"]):
        alerts.add_delivery(
            {
                "id": f"d{n}",
                "event": "test",
                "target": "ops",
                "payload": {},
                "status": status,
                "attempts": 1,
                "created_at": now,
                "next_attempt_at": None,
            }
        )
    families = {m.name: {tuple(s.labels.values()): s.value for s in m.samples} for m in alert_metrics(hv)}
    hv.close()
    assert families["harvester_alerts"] == {("ops", "delivered"): 2, ("ops", "failed"): 1}
    assert families["harvester_alerts_pending"] == {("ops",): 1}
