"""Alerts: incidents (a failing collector, a stale entry, a gone worker, a failed check) announced
once when they open and once when they resolve, to webhooks, Slack-compatible webhooks and email.

The flow, each step a module:

- :mod:`~harvester.alerts.config`: the targets, as settings (``HARVESTER_ALERT_TARGETS``);
- :mod:`~harvester.alerts.events`: incident kinds, :class:`Condition`, and :class:`CheckStatus`
  (how periodic collector checks report into alerts);
- :mod:`~harvester.alerts.incidents`: pure: what was observed -> which incidents open or resolve;
- :mod:`~harvester.alerts.routing`: which targets an incident goes to (``alerts:`` in the schedule);
- :mod:`~harvester.alerts.evaluator`: reads history, the schedule, workers and checks; records
  incident changes with their deliveries (the outbox, harvester.history.alerts);
- :mod:`~harvester.alerts.delivery`: sends due deliveries, records each attempt, retries with backoff;
- :mod:`~harvester.alerts.targets`: one send to one target (signed webhook, Slack, SMTP);
- :mod:`~harvester.alerts.service`: both loops in a thread of the scheduler process (beat), so a
  slow target never delays a schedule tick, and never a run.
"""

from harvester.alerts.events import AlertEvent, CheckStatus, Condition, IncidentKind, OpenIncident

__all__ = ["AlertEvent", "CheckStatus", "Condition", "IncidentKind", "OpenIncident"]
