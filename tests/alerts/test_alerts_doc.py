"""docs/alerts.md: its receiver verifies real signed webhooks, its JSON is the alert's shape, and its
settings and schedule examples load."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from harvester import Collector, Settings
from harvester.alerts.config import WebhookTarget
from harvester.alerts.message import payload
from harvester.alerts.targets import send
from harvester.registry import Registry
from harvester.schedule.loader import parse_schedule_text

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "alerts.md").read_text()


def block(language: str, after: str = "") -> str:
    start = PAGE.index(after) if after else 0
    match = re.compile(rf"```{language}\n(.*?)```", re.S).search(PAGE, start)
    assert match is not None, f"no {language} block after {after!r}"
    return match.group(1)


def test_the_documented_receiver_accepts_harvesters_signature_and_nothing_else(receiver):
    namespace: dict = {}
    exec(block("python", "<!-- file: receiver.py -->"), namespace)
    is_from_harvester = namespace["is_from_harvester"]
    at = datetime(2026, 12, 2, tzinfo=UTC)
    alert = payload("a1", "test", {"id": None, "key": "test", "kind": "test", "subject": "ops"}, "hi", at)
    send(WebhookTarget(kind="webhook", url=receiver.url, secret="s3cret"), alert, timeout=5)
    (got,) = receiver.received
    signature = got.headers["X-Harvester-Signature"]
    assert is_from_harvester(got.body, signature, "s3cret")
    assert not is_from_harvester(got.body, signature, "other")
    assert not is_from_harvester(got.body.replace(b"hi", b"ho"), signature, "s3cret")
    assert not is_from_harvester(got.body, None, "s3cret")


def test_the_documented_json_has_the_alerts_fields():
    documented = json.loads(block("json", "## The webhook's JSON"))
    at = datetime(2026, 12, 2, tzinfo=UTC)
    real = payload("a", "run_failed", {"id": 1, "key": "k", "kind": "run_failed", "subject": "s"}, "x", at)
    assert documented.keys() == real.keys()
    assert documented["incident"].keys() == real["incident"].keys()


def test_the_documented_targets_load(monkeypatch):
    text = block("bash", "## Where alerts go")
    value = text.split("HARVESTER_ALERT_TARGETS='", 1)[1].rsplit("'", 1)[0]
    monkeypatch.setenv("HARVESTER_ALERT_TARGETS", value)
    targets = Settings().alert_targets
    assert {name: t.kind for name, t in targets.items()} == {"ops": "webhook", "chat": "slack", "mail": "email"}


def test_the_documented_schedule_routes_as_it_says():
    class Repo(BaseModel):
        repo: str = "x/y"

    registry = Registry()
    for name in ("github_stars", "github_issues", "experiments"):
        registry.add(type(name, (Collector,), {"name": name, "Params": Repo, "__module__": __name__}))
    loaded = parse_schedule_text(block("yaml", "In the schedule file"), registry)
    assert loaded.problems == ()
    assert [e.alerts for e in loaded.entries] == [("ops", "chat"), ("mail",), ()]
