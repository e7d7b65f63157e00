"""What the alert loop reads about scheduled probes: their latest results as ``CheckStatus`` values."""

from __future__ import annotations

from harvester.alerts.events import CheckStatus
from harvester.app import Harvester
from harvester.execution.checks import CheckTarget, probe_key
from harvester.history.checks import CheckStore
from harvester.schedule.entries import Schedule


def check_statuses(hv: Harvester, schedule: Schedule | None) -> list[CheckStatus]:
    """The latest result of each scheduled probe (entries with ``check:``), as the alert evaluator
    reads them (``Sources(checks=...)``): a failure opens a ``check_failed`` incident."""
    if schedule is None:
        return []
    groups: dict[tuple[str, str], str] = {}
    for entry in schedule.enabled:
        if entry.check is not None:
            groups.setdefault(probe_key(hv.registry, CheckTarget(entry.collector, dict(entry.params))), entry.group)
    if not groups:
        return []
    stored = CheckStore(hv.store).latest({collector for collector, _ in groups})
    return [
        CheckStatus(
            collector=row["collector"],
            ok=row["ok"],
            message=row["detail"] or ("passed" if row["ok"] else "failed"),
            checked_at=row["checked_at"],
            group=groups[key],
            params_key=row["params_key"],
            label=f"{row['collector']} ({row['label']})",
        )
        for key, row in stored.items()
        if key in groups
    ]
