"""``alerts``: send a sample alert to a target, list targets and recent incidents; and the alert loop
the scheduler (``harvester beat``, also under ``harvester up``) runs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from urllib.parse import urlsplit

import click
from rich.markup import escape
from rich.table import Table

from harvester.alerts.config import EmailTarget, TargetConfig, WebhookTarget
from harvester.alerts.delivery import Deliverer, DeliveryPolicy
from harvester.alerts.evaluator import Checks, Evaluator, ScheduleSource, Sources
from harvester.alerts.message import payload
from harvester.alerts.routing import Router
from harvester.alerts.service import AlertService
from harvester.app import Harvester
from harvester.cli.context import CliState, fail
from harvester.cli.output import age
from harvester.history.alerts import PENDING, AlertStore
from harvester.history.engine import utcnow
from harvester.secret_refs import is_reference
from harvester.settings import Settings

#: Seconds a worker ping of the alert loop waits for replies.
PING_TIMEOUT = 2.0


def delivery_policy(settings: Settings) -> DeliveryPolicy:
    return DeliveryPolicy(
        timeout=settings.alert_timeout,
        retry_delay=settings.alert_retry_delay,
        retry_max_delay=settings.alert_retry_max_delay,
        max_attempts=settings.alert_max_attempts,
    )


def alert_service(hv: Harvester, schedule: ScheduleSource, checks: Checks | None = None) -> AlertService:
    """The alert loop of the scheduler process: history, ``schedule`` (the scheduler's, reloads
    included), a worker ping and ``checks`` (the latest probe results) observed every
    ``HARVESTER_ALERT_INTERVAL`` seconds."""
    s = hv.settings
    store = AlertStore(hv.store)

    def workers() -> Sequence[str] | None:
        with hv.celery.connection_for_write(connect_timeout=PING_TIMEOUT) as conn:
            conn.ensure_connection(max_retries=0)
            replies = hv.celery.control.ping(timeout=PING_TIMEOUT, connection=conn) or []
        return [name for reply in replies for name in reply]

    sources = Sources(schedule=schedule, successes=hv.store.entry_successes, workers=workers, checks=checks)
    router = Router(s.alert_targets, s.alert_default_targets)
    grace = timedelta(seconds=s.alert_worker_grace)
    evaluator = Evaluator(store, hv.registry, router, sources, worker_grace=grace)
    deliverer = Deliverer(store, s.alert_targets, delivery_policy(s))
    retention = timedelta(days=s.retention_days) if s.retention_days else None
    return AlertService(evaluator, deliverer, s.alert_interval, retention=retention)


@click.group()
def alerts() -> None:
    """Alert targets and incidents (HARVESTER_ALERT_TARGETS; docs/alerts.md)."""


@alerts.command("test")
@click.argument("target")
@click.pass_obj
def test_target(state: CliState, target: str) -> None:
    """Send a sample alert to TARGET now, once, and print the outcome (exit 1 if it failed).

    The attempt is recorded like any alert's (the dashboard's Alerts page shows it)."""
    hv = state.app
    targets = hv.settings.alert_targets
    if target not in targets:
        known = ", ".join(sorted(targets)) or "none (set HARVESTER_ALERT_TARGETS)"
        fail(2, f"no alert target named {target!r}; defined: {known}")
    now = utcnow()
    alert_id = str(uuid.uuid4())
    incident = {"id": None, "key": "test", "kind": "test", "subject": target, "opened_at": now, "resolved_at": None}
    summary = f"a test alert from `harvester alerts test {target}`: if you read this, alerts reach {target}"
    delivery = {
        "id": alert_id,
        "incident_id": None,
        "event": "test",
        "target": target,
        "payload": payload(alert_id, "test", incident, summary, now, {}),
        "status": PENDING,
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": None,
    }
    store = AlertStore(hv.store)
    store.add_delivery(delivery)
    error = Deliverer(store, targets, delivery_policy(hv.settings)).attempt(delivery, now, retry=False)
    kind = targets[target].kind
    if error is not None:
        fail(1, f"{target} ({kind}): not delivered: {error}")
    state.console.print(f"{escape(target)} ({kind}): delivered (alert {alert_id})", highlight=False)


@alerts.command("targets")
@click.pass_obj
def list_targets(state: CliState) -> None:
    """The configured targets (secrets never shown)."""
    targets = state.settings.alert_targets
    if not targets:
        state.console.print("no alert targets (set HARVESTER_ALERT_TARGETS, see docs/alerts.md)")
        return
    default = state.settings.alert_default_targets
    table = Table(header_style="bold", box=None, pad_edge=False)
    for column in ("target", "kind", "where", "default"):
        table.add_column(column, no_wrap=True)
    for name, config in sorted(targets.items()):
        table.add_row(name, config.kind, _where(config), "yes" if default is None or name in default else "no")
    state.console.print(table, highlight=False)


def _where(config: TargetConfig) -> str:
    """Where a target sends, without anything secret: a webhook's host (its path may hold a token)."""
    if isinstance(config, EmailTarget):
        return f"{config.host}:{config.port} -> {', '.join(config.to)}"
    if isinstance(config, WebhookTarget):
        if is_reference(config.url):
            return config.url
        parts = urlsplit(config.url)  # no user:password@, no path
        return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}/…"
    return "(secret URL)"


@alerts.command("list")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.pass_obj
def list_incidents(state: CliState, limit: int) -> None:
    """Recent incidents, newest first: kind, subject, when opened and resolved, targets."""
    rows = AlertStore(state.app.store).incidents(limit)
    if not rows:
        state.console.print("no incidents")
        return
    table = Table(header_style="bold", box=None, pad_edge=False)
    for column in ("id", "kind", "subject", "opened", "resolved", "targets"):
        table.add_column(column, no_wrap=True)
    table.add_column("summary", overflow="fold")
    for row in rows:
        resolved = age(row["resolved_at"]) if row["resolved_at"] else "open"
        targets = ", ".join(row["targets"]) or "-"
        cells = (str(row["id"]), row["kind"], row["subject"], age(row["opened_at"]), resolved, targets, row["summary"])
        table.add_row(*map(escape, cells))
    state.console.print(table, highlight=False)


COMMANDS = (alerts,)
