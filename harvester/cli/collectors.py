"""``run``, ``trigger`` and ``list``: the commands about collectors."""

from __future__ import annotations

import time
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harvester.cli.context import CliState, fail
from harvester.cli.output import print_outcome
from harvester.cli.params import params_command
from harvester.errors import ConfigError, RegistryError
from harvester.execution.dispatcher import DispatchError
from harvester.execution.runner import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, RunResult

_PASSTHROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


def _request(state: CliState, name: str | None, args: tuple[str, ...], command: str, **options: Any) -> Any:
    if name is None or name in ("-h", "--help"):
        click.echo(click.get_current_context().get_help())
        names = state.unchecked_app.registry.names()  # the registry only: --help touches no database
        click.echo("\ncollectors: " + (", ".join(names) or "none registered"))
        raise click.exceptions.Exit(0)
    hv = state.app
    try:
        cls = hv.registry.get(name)
    except RegistryError as exc:
        fail(EXIT_CONFIG, str(exc))
    try:
        params = params_command(cls, list(args), f"harvester {command} {name}")
    except click.exceptions.Exit as done:
        raise click.exceptions.Exit(done.exit_code) from None
    except click.UsageError as exc:
        fail(EXIT_CONFIG, exc.format_message())
    try:
        return hv.request(name, params, trigger="cli", **options)
    except ConfigError as exc:
        fail(EXIT_CONFIG, str(exc))


class _Bar:
    """A rich progress bar that appears only once the collector reports progress."""

    def __init__(self, state: CliState, label: str) -> None:
        self.progress: Progress | None = None
        self.task: Any = None
        self.state = state
        self.label = label

    def __call__(self, done: int, total: int | None) -> None:
        if self.progress is None:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.state.err,
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=total)
        self.progress.update(self.task, completed=done, total=total)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()


@click.command(context_settings=_PASSTHROUGH)
@click.argument("name", required=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option("--force", is_flag=True, help="Run even if the same collector + params is already running.")
@click.pass_obj
def run(state: CliState, name: str | None, args: tuple[str, ...], force: bool) -> None:
    """Run collector NAME now, in this process.

    Params are options named after the collector's fields (`harvester run NAME --help`
    lists them) or `--param key=value`. Exit code 0 ok, 1 failed, 2 config error.
    """
    request = _request(state, name, args, "run", force=force)
    bar = _Bar(state, request.collector)

    def waiting(result: RunResult) -> None:
        bar.stop()
        state.err.print(
            f"[yellow]attempt {result.attempt} failed ({result.category}: {result.error}); "
            f"retrying in {result.retry_in:.1f}s[/]"
            if result.error
            else f"[yellow]waiting {result.retry_in:.0f}s: already running elsewhere[/]"
        )

    try:
        result = state.app.run_inline(request, on_progress=bar, on_wait=waiting)
    finally:
        bar.stop()
    row = state.app.store.get_run(result.run_id)
    if row is not None:
        print_outcome(state.console, row)
    raise click.exceptions.Exit(result.exit_code)


@click.command(context_settings=_PASSTHROUGH)
@click.argument("name", required=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option("--force", is_flag=True, help="Run even if the same collector + params is already running.")
@click.option("--wait", is_flag=True, help="Follow the run until it finishes; exit code as `run`.")
@click.option(
    "--timeout",
    type=float,
    default=None,
    help="With --wait: give up after this many seconds (exit 1; the run goes on) "
    "[default: HARVESTER_TASK_TIME_LIMIT + 60].",
)
@click.pass_obj
def trigger(
    state: CliState, name: str | None, args: tuple[str, ...], force: bool, wait: bool, timeout: float | None
) -> None:
    """Enqueue collector NAME on the workers and print its task id."""
    request = _request(state, name, args, "trigger", force=force)
    try:
        state.app.submit([request])
    except DispatchError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        fail(EXIT_FAILED, f"{reason}; run {request.run_id} is recorded and is sent once the broker is back")
    click.echo(request.run_id)
    click.echo(f"Collection task queued for {request.collector}", err=True)  # stdout stays the id alone
    if wait:
        limit = timeout if timeout is not None else state.app.settings.task_time_limit + 60.0
        raise click.exceptions.Exit(follow(state, request.run_id, limit))


def follow(state: CliState, run_id: str, timeout: float | None) -> int:
    """Poll the run's history row until it finishes; show progress while it runs."""
    deadline = None if timeout is None else time.monotonic() + timeout
    bar = _Bar(state, "running")
    try:
        while True:
            row = state.app.store.get_run(run_id)
            if row is None:
                fail(EXIT_FAILED, f"run {run_id} is not in the history database")
            if row["status"] in ("succeeded", "failed", "skipped"):
                break
            if row["progress_done"] is not None:
                bar(row["progress_done"], row["progress_total"])
            if deadline is not None and time.monotonic() > deadline:
                bar.stop()
                doing = {
                    "running": f"attempt {row['attempt']} on {row['worker']}",
                    "queued": "no worker took it yet: is one running on its queue?",
                }.get(row["status"], row["status"])
                state.err.print(
                    f"run {run_id} still {row['status']} after {timeout:.0f}s ({doing}); not waiting any longer, "
                    f"it goes on: `harvester runs show {run_id[:8]}`"
                )
                return EXIT_FAILED
            time.sleep(0.2)
    finally:
        bar.stop()
    print_outcome(state.console, row)
    if row["status"] == "succeeded":
        return EXIT_OK
    return EXIT_CONFIG if row["error_category"] == "config" else EXIT_FAILED


COMMANDS = (run, trigger)
