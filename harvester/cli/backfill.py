"""``harvester backfill NAME --from A --to B``: one run per partition on the workers, resumable."""

from __future__ import annotations

import contextlib
import json
import shlex
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from harvester.backfill import backfill_id, partition_param, partition_values
from harvester.cli.backfill_runs import Loop, Plan, StopRequest, make_plan
from harvester.cli.context import CliState, fail
from harvester.cli.params import params_command
from harvester.errors import ConfigError, RegistryError
from harvester.execution.runner import EXIT_CONFIG, EXIT_FAILED, EXIT_OK
from harvester.history.states import FINISHED

#: Exit code of a backfill stopped with Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130
_PASSTHROUGH = {"ignore_unknown_options": True, "allow_extra_args": True}


class _Bar:
    """done / failed / running / remaining, with an ETA, on stderr."""

    def __init__(self, state: CliState, plan: Plan) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeRemainingColumn(),
            console=state.err,
        )
        total = len(plan.partitions) - plan.count("already")
        self.task = self.progress.add_task(plan.collector, total=total, counts="")

    def __call__(self, plan: Plan) -> None:
        done, failed = plan.count("succeeded"), len(plan.failed)
        running = len(plan.partitions) - plan.count("already", "todo", *FINISHED)
        counts = f"done {done} · failed {failed} · running {running} · remaining {plan.count('todo')}"
        self.progress.update(self.task, completed=done + failed, counts=counts)


def _plan(
    state: CliState, name: str, start: str, end: str, step: str | None, args: tuple[str, ...], force: bool
) -> Plan:
    hv = state.app
    try:
        cls = hv.registry.get(name)
        param = partition_param(cls)
        values = partition_values(cls, start, end, step)
    except (RegistryError, ConfigError) as exc:
        fail(EXIT_CONFIG, str(exc))
    assert param is not None  # partition_values refused a collector without one
    try:
        params = params_command(cls, list(args), f"harvester backfill {name}")
    except click.exceptions.Exit as done:
        raise click.exceptions.Exit(done.exit_code) from None
    except click.UsageError as exc:
        fail(EXIT_CONFIG, exc.format_message())
    if param.name in params:
        fail(EXIT_CONFIG, f"'{param.name}' is the partition param of {name}: --from and --to give its values")
    try:
        redacted = cls(**{**params, param.name: values[0]}).redacted_params() if values else {}
        redacted.pop(param.name, None)
        batch = backfill_id(name, redacted, start, end, step)
        return make_plan(hv, name, params, param.name, values, batch, force)
    except ConfigError as exc:
        fail(EXIT_CONFIG, str(exc))


def _summary(plan: Plan, interrupted: bool) -> dict[str, Any]:
    return {
        "backfill": plan.batch_id,
        "collector": plan.collector,
        "partitions": len(plan.partitions),
        "already_succeeded": plan.count("already"),
        "succeeded": plan.count("succeeded"),
        "failed": len(plan.failed),
        "not_run": plan.count("todo"),
        "not_ended": len(plan.partitions) - plan.count("already", "todo", *FINISHED),
        "interrupted": interrupted,
        "runs": [{"partition": p.label, "status": p.status, "run_id": p.run_id} for p in plan.partitions],
    }


def _report(plan: Plan, interrupted: bool, resume: str) -> None:
    s = _summary(plan, interrupted)
    click.echo(
        f"{plan.collector} backfill {plan.batch_id}: {s['partitions']} partitions, {s['already_succeeded']} had "
        f"succeeded before, {s['succeeded']} succeeded, {s['failed']} failed"
    )
    for p in plan.failed:
        click.echo(f"  {p.label}: {p.status} (harvester runs show {p.run_id})")
    if interrupted:
        _stopped(s, resume)


def _stopped(summary: dict[str, Any], resume: str) -> None:
    going = f", {summary['not_ended']} runs still going on the workers" if summary["not_ended"] else ""
    click.echo(f"stopped: {summary['not_run']} partitions not started{going}", err=True)
    if summary["not_run"] + summary["not_ended"]:
        click.echo(f"resume with the same command (partitions that succeeded are skipped):\n  {resume}", err=True)


@click.command(context_settings=_PASSTHROUGH)
@click.argument("name")
@click.option("--from", "start", required=True, help="First partition (included), e.g. 2026-01-01, 2026-01, 1.")
@click.option("--to", "end", required=True, help="Last partition (included).")
@click.option("--step", default=None, help="Between partitions: 1d (default for dates), 7d, 2w, 1mo, or N for ints.")
@click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True, help="Runs at once.")
@click.option("--force", is_flag=True, help="Run again the partitions whose run already succeeded.")
@click.option("--dry-run", is_flag=True, help="List the partitions and what would run; run nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def backfill(
    state: CliState,
    name: str,
    start: str,
    end: str,
    step: str | None,
    concurrency: int,
    force: bool,
    dry_run: bool,
    as_json: bool,
    args: tuple[str, ...],
) -> None:
    """Run collector NAME once per partition from --from to --to on the workers.

    Other params as for `harvester trigger NAME` (`harvester trigger NAME --help`
    lists them). Ctrl-C stops submitting (the runs under way
    end); the same command resumes, skipping partitions whose run succeeded unless --force.
    Exit code 0 all succeeded, 1 a partition failed, 2 bad input, 130 stopped.
    """
    plan = _plan(state, name, start, end, step, args, force)
    if dry_run:
        _dry_run(state, plan, as_json)
        return
    resume = shlex.join(
        ["harvester", "backfill", name, "--from", start, "--to", end, *_options(step, concurrency), *args]
    )
    interrupted = _drive(state, plan, concurrency)
    if as_json:
        click.echo(json.dumps(_summary(plan, interrupted), indent=2))
        if interrupted:
            _stopped(_summary(plan, interrupted), resume)
    else:
        _report(plan, interrupted, resume)
    if interrupted:
        raise click.exceptions.Exit(EXIT_INTERRUPTED)
    raise click.exceptions.Exit(EXIT_FAILED if plan.failed else EXIT_OK)


def _options(step: str | None, concurrency: int) -> list[str]:
    return [*(["--step", step] if step else []), "--concurrency", str(concurrency)]


def _drive(state: CliState, plan: Plan, concurrency: int) -> bool:
    """Run the plan; True when Ctrl-C stopped it."""
    bar = _Bar(state, plan)

    def dispatch_error(message: str) -> None:
        state.err.print(
            f"[yellow]the broker refused a run ({message}); it is recorded and sent once the broker is back[/]"
        )

    stop = StopRequest()
    # a second Ctrl-C leaves at once: the runs under way go on without us
    with stop.installed(), bar.progress, contextlib.suppress(KeyboardInterrupt):
        Loop(state.app, plan, concurrency, stop, on_change=bar, on_dispatch_error=dispatch_error).run()
    return stop.requested


def _dry_run(state: CliState, plan: Plan, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(_summary(plan, False), indent=2))
        return
    words = {"todo": "to run", "already": "succeeded before: skipped"}
    for p in plan.partitions:
        what = words.get(p.status, f"{p.status}: waited for")
        suffix = f" (run {p.run_id})" if p.run_id else ""
        click.echo(f"{p.label}  {what}{suffix}")
    click.echo(f"{plan.count('todo')} of {len(plan.partitions)} partitions to run ({plan.batch_id})")


COMMANDS = (backfill,)
