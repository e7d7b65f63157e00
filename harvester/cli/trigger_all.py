"""``harvester trigger --all [--group G]``: enqueue everything now, the "run all collectors" of the seed systems."""

from __future__ import annotations

from dataclasses import replace

import click

from harvester.app import Harvester
from harvester.cli.context import CliState, fail
from harvester.cli.output import dumps, run_json
from harvester.errors import ConfigError
from harvester.execution.checks import takes_no_params
from harvester.execution.dispatcher import DispatchError
from harvester.execution.requests import entry_requests, make_request
from harvester.execution.runner import EXIT_CONFIG, EXIT_FAILED
from harvester.history.engine import utcnow
from harvester.request import RunRequest, new_batch_id
from harvester.schedule.entries import did_you_mean
from harvester.schedule.loader import load_schedule
from harvester.schedule.predicates import should_run


def every_collector(hv: Harvester) -> tuple[list[RunRequest], list[str]]:
    """A run of each registered collector that needs no params (one per target of one with
    ``targets()``), and the names of those left out because they need params."""
    requests: list[RunRequest] = []
    left_out: list[str] = []
    for cls in hv.registry:
        if not takes_no_params(cls):
            left_out.append(cls.name)
            continue
        targets = cls.targets()
        param_sets = [{}] if targets is None else [t.model_dump() for t in targets]
        requests.extend(make_request(hv.registry, cls.name, params, trigger="cli") for params in param_sets)
    return requests, left_out


def group_entries(hv: Harvester, group: str) -> list[RunRequest]:
    """The runs of each enabled entry of ``group`` (as one batch of it), with their entry, so they
    count for its freshness; an entry whose ``when`` says no is left out (said on stderr)."""
    try:
        loaded = load_schedule(hv.settings.schedule_file, hv.registry, strict=hv.settings.schedule_strict)
    except ConfigError as exc:
        fail(EXIT_CONFIG, str(exc))
    groups = sorted({e.group for e in loaded.entries})
    if group not in groups:
        fail(
            EXIT_CONFIG,
            f"no group '{group}' in the schedule{did_you_mean(group, groups)}; groups: {', '.join(groups) or 'none'}",
        )
    batch_id = new_batch_id(utcnow())
    requests: list[RunRequest] = []
    for entry in loaded.enabled:
        if entry.group != group:
            continue
        runs, why = should_run(entry)
        if not runs:
            click.echo(f"skipped {entry.collector} (line {entry.line}): {why}", err=True)
            continue
        requests.extend(replace(r, trigger="cli") for r in entry_requests(hv.registry, entry, batch_id))
    return requests


def trigger_all(state: CliState, group: str | None, as_json: bool, *, force: bool, expires: float | None) -> int:
    """Record and send the runs; print each run id (or, with ``as_json``, the runs as a JSON list).
    The exit code: 0, or 1 when the broker could not take them (they are recorded: recovery sends them)."""
    hv = state.app
    if group is None:
        requests, left_out = every_collector(hv)
        if left_out:
            click.echo(f"not triggered, they need params: {', '.join(left_out)}", err=True)
    else:
        requests = group_entries(hv, group)
    if not requests:
        click.echo("nothing to trigger", err=True)
        return 0
    requests = [replace(r, force=force, expires=expires if expires is not None else r.expires) for r in requests]
    try:
        hv.submit(requests)
    except DispatchError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        fail(EXIT_FAILED, f"{reason}; the {len(requests)} runs are recorded and are sent once the broker is back")
    if as_json:
        rows = [hv.store.get_run(r.run_id) for r in requests]
        click.echo(dumps([run_json(row) for row in rows if row is not None]))
    else:
        for request in requests:
            click.echo(request.run_id)
    which = f"group {group}" if group else "every collector that needs no params"
    click.echo(f"{len(requests)} collection tasks queued ({which})", err=True)
    return 0
