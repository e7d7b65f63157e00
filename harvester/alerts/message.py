"""The alert itself: the JSON every target is given (the webhook's body), and its text for people.

The JSON (schema version 1; docs/alerts.md lists every field)::

    {"version": 1, "id": "6f1c...", "event": "run_failed", "state": "open",
     "summary": "github_stars failed (upstream): HTTP 503", "at": "2026-12-02T13:05:00+00:00",
     "incident": {"id": 12, "key": "run_failed:github_stars:3f2a...", "kind": "run_failed",
                  "subject": "github_stars", "opened_at": "2026-12-02T13:05:00+00:00", "resolved_at": null},
     "detail": {"run_id": "...", "error_category": "upstream"}}

``id`` is the same on every attempt of one delivery: a receiver dedupes on it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from harvester.alerts.events import AlertEvent

SCHEMA_VERSION = 1

_TITLES: Mapping[str, str] = {
    "run_failed": "FAILED",
    "recovered": "RECOVERED",
    "stale": "STALE",
    "fresh": "FRESH AGAIN",
    "worker_gone": "WORKER GONE",
    "worker_back": "WORKER BACK",
    "check_failed": "CHECK FAILED",
    "check_passed": "CHECK PASSED",
    "test": "TEST",
}


def payload(
    alert_id: str,
    event: AlertEvent,
    incident: Mapping[str, Any],
    summary: str,
    at: datetime,
    detail: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The alert as JSON-ready values (``incident``: id, key, kind, subject, opened_at, resolved_at)."""
    return {
        "version": SCHEMA_VERSION,
        "id": alert_id,
        "event": event,
        "state": "resolved" if incident.get("resolved_at") is not None else "open",
        "summary": summary,
        "at": at.isoformat(),
        "incident": {
            "id": incident.get("id"),
            "key": incident.get("key"),
            "kind": incident.get("kind"),
            "subject": incident.get("subject"),
            "opened_at": _iso(incident.get("opened_at")),
            "resolved_at": _iso(incident.get("resolved_at")),
        },
        "detail": dict(detail or {}),
    }


def _iso(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def body(alert: Mapping[str, Any]) -> bytes:
    """The exact bytes POSTed (and signed): compact JSON, keys sorted."""
    return json.dumps(alert, separators=(",", ":"), sort_keys=True, default=str).encode()


def title(alert: Mapping[str, Any]) -> str:
    """``[harvester] FAILED github_stars``: an email subject, a chat message's first words."""
    subject = alert.get("incident", {}).get("subject") or ""
    return f"[harvester] {_TITLES.get(str(alert.get('event')), str(alert.get('event')).upper())} {subject}".rstrip()


def text(alert: Mapping[str, Any]) -> str:
    """The alert for people: title, summary, then each detail on a line of its own."""
    lines = [title(alert), str(alert.get("summary", ""))]
    lines += [f"{key}: {value}" for key, value in sorted(dict(alert.get("detail", {})).items()) if value is not None]
    lines.append(f"at {alert.get('at')} (incident {alert.get('incident', {}).get('id')})")
    return "\n".join(lines)
