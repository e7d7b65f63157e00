"""``harvester check``: probe collectors (``Collector.check()``) now, in this process, and store the results."""

from __future__ import annotations

from collections.abc import Iterable

import click
from rich.markup import escape
from rich.table import Table

from harvester.app import Harvester
from harvester.cli.context import CliState, fail
from harvester.cli.output import dumps
from harvester.cli.params import parse_param_pairs
from harvester.errors import RegistryError
from harvester.execution.checks import CheckPlan, CheckTarget, plan_checks, run_checks
from harvester.history.checks import CheckResult, CheckStore
from harvester.history.engine import DatabaseError
from harvester.schedule.overview import read_schedule_file


def _plan(state: CliState, names: tuple[str, ...], pairs: tuple[str, ...]) -> CheckPlan:
    hv = state.app
    for name in names:
        try:
            hv.registry.get(name)
        except RegistryError as exc:
            fail(2, str(exc))
    if pairs:
        if len(names) != 1:
            fail(2, "--param goes with exactly one collector NAME")
        try:
            params = parse_param_pairs(pairs)
        except click.BadParameter as exc:
            fail(2, exc.format_message())
        return CheckPlan((CheckTarget(names[0], params, "--param"),))
    loaded = read_schedule_file(hv.settings.schedule_file, hv.registry)
    for problem in loaded.problems:
        state.err.print(f"skipped: {escape(str(problem))}", style="yellow", highlight=False)
    if loaded.error:
        state.err.print(f"schedule not read: {escape(loaded.error)}", style="yellow", highlight=False)
    return plan_checks(hv.registry, loaded.schedule.entries if loaded.schedule else (), names)


def _table(results: list[CheckResult]) -> Table:
    table = Table(header_style="bold", box=None, pad_edge=False)
    for column in ("collector", "entry", "result", "detail", "took"):
        table.add_column(column, no_wrap=column != "detail", overflow="fold")
    for r in results:
        verdict = "[green]ok[/]" if r.ok else f"[red]failed[/] ({r.category})"
        table.add_row(escape(r.collector), escape(r.label), verdict, escape(r.detail) or "-", f"{r.duration:.2f}s")
    return table


def result_json(result: CheckResult) -> dict[str, object]:
    return {
        "collector": result.collector,
        "entry": result.label,
        "params": result.params,
        "ok": result.ok,
        "category": result.category,
        "detail": result.detail,
        "checked_at": result.checked_at.isoformat(),
        "duration": round(result.duration, 3),
    }


@click.command("check")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--param", "-p", "pairs", multiple=True, metavar="KEY=VALUE", help="Params (with exactly one NAME).")
@click.option(
    "--timeout", type=float, default=None, help="Seconds each probe may take [default: HARVESTER_CHECK_TIMEOUT]."
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as a JSON list.")
@click.pass_obj
def check(
    state: CliState, names: tuple[str, ...], pairs: tuple[str, ...], timeout: float | None, as_json: bool
) -> None:
    """Probe collectors now: each one's check() verifies credentials and reachability without collecting.

    Probed: every enabled schedule entry with its params, and every collector that needs no params
    with its defaults; NAME... limits it to those collectors. Results are stored (`/health?checks=collectors`
    shows them). Exit code 0 when every probe passed, 1 when any failed, 2 for bad input.
    """
    hv = state.app
    plan = _plan(state, names, pairs)
    if plan.needs_params:
        fail(2, f"{', '.join(plan.needs_params)}: needs params: give them with --param KEY=VALUE, or schedule it")
    results = run_and_store(hv, plan.targets, timeout)
    if as_json:
        click.echo(dumps([result_json(r) for r in results]))
    elif results:
        state.console.print(_table(results))
    else:
        state.err.print("nothing to check: no collector that needs no params, and no schedule entry")
    failed = sum(not r.ok for r in results)
    if not as_json and results:
        state.err.print(f"{len(results) - failed} passed, {failed} failed", highlight=False)
    raise click.exceptions.Exit(1 if failed else 0)


def run_and_store(hv: Harvester, targets: Iterable[CheckTarget], timeout: float | None) -> list[CheckResult]:
    """Run the probes and store their results; a history database that refuses them is a warning."""
    results = run_checks(hv.registry, list(targets), timeout or hv.settings.check_timeout)
    try:
        CheckStore(hv.store).record(results, "cli")
    except DatabaseError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        click.echo(f"warning: results not stored, the history database failed: {reason}", err=True)
    return results


COMMANDS = (check,)
