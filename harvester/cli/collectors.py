"""``run``, ``trigger`` and ``list``: the commands about collectors."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from dataclasses import replace
from typing import Any

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harvester.cli.context import CliState, fail
from harvester.cli.output import dumps, print_outcome, run_json
from harvester.cli.params import params_command
from harvester.cli.trigger_all import trigger_all
from harvester.errors import ConfigError, RegistryError
from harvester.execution.dispatcher import DispatchError
from harvester.execution.runner import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, RunResult
from harvester.schedule.entries import expiry_seconds
from harvester.whereabouts import NO_CONSUMER_AFTER, no_consumer

_PASSTHROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}
_JSON = click.option(
    "--json", "as_json", is_flag=True, help="Print the run as one JSON object on stdout (everything else: stderr)."
)


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
@_JSON
@click.pass_obj
def run(state: CliState, name: str | None, args: tuple[str, ...], force: bool, as_json: bool) -> None:
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
        # with --json, whatever the collector prints goes to stderr: stdout holds the one document
        with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
            result = state.app.run_inline(request, on_progress=bar, on_wait=waiting)
    finally:
        bar.stop()
    row = state.app.store.get_run(result.run_id)
    if row is not None:
        _outcome(state, row, as_json)
    raise click.exceptions.Exit(result.exit_code)


def _outcome(state: CliState, row: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(dumps(run_json(row)))
    else:
        print_outcome(state.console, row)


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
@click.option(
    "--expires",
    metavar="DURATION",
    help="If no worker started the run within DURATION (10m, 90s, or seconds), record it expired "
    "instead of running it late [default: never].",
)
@click.option(
    "--all",
    "all_",
    is_flag=True,
    help="Instead of NAME: every collector that needs no params (with --group: each entry of a schedule "
    "group); one run id a line.",
)
@click.option("--group", metavar="G", help="With --all: the enabled entries of schedule group G, with their params.")
@_JSON
@click.pass_obj
def trigger(
    state: CliState,
    name: str | None,
    args: tuple[str, ...],
    force: bool,
    wait: bool,
    timeout: float | None,
    as_json: bool,
    expires: str | None = None,
    all_: bool = False,
    group: str | None = None,
) -> None:
    """Enqueue collector NAME on the workers and print its task id.

    With --wait, a run still queued after a few seconds makes it ask the workers whether any
    consumes the run's queue, and say so if none does (it keeps waiting).
    """
    try:
        expiry = expiry_seconds(expires)
    except ValueError as exc:
        fail(EXIT_CONFIG, f"--expires: {exc}")
    if all_:
        if name is not None or args or wait:
            fail(EXIT_CONFIG, "--all triggers every collector (or --group's entries): no NAME, params or --wait")
        raise click.exceptions.Exit(trigger_all(state, group, as_json, force=force, expires=expiry))
    if group is not None:  # without --all, --group is the collector's own param of that name
        args = ("--group", group, *args)
    request = replace(_request(state, name, args, "trigger", force=force), expires=expiry)
    try:
        state.app.submit([request])
    except DispatchError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        fail(EXIT_FAILED, f"{reason}; run {request.run_id} is recorded and is sent once the broker is back")
    if not as_json:
        click.echo(request.run_id)
    elif not wait:  # with --wait, the one JSON document is the run as it ends
        queued = state.app.store.get_run(request.run_id)
        click.echo(dumps(run_json(queued) if queued is not None else {"run_id": request.run_id}))
    click.echo(f"Collection task queued for {request.collector}", err=True)  # stdout stays the id alone
    if wait:
        limit = timeout if timeout is not None else state.app.settings.task_time_limit + 60.0
        queue = state.app.dispatcher.queue_of(request)
        raise click.exceptions.Exit(follow(state, request.run_id, limit, queue=queue, as_json=as_json))


class _ConsumerCheck:
    """Asks once, in a thread, whether any worker consumes ``queue`` (the answer takes seconds)."""

    def __init__(self, state: CliState, queue: str) -> None:
        self.queue = queue
        self.answer: list[int | None] = []
        self._thread = threading.Thread(target=self._ask, args=(state,), name="harvester-consumers", daemon=True)

    def _ask(self, state: CliState) -> None:
        self.answer.append(state.app.dispatcher.consumers(self.queue))

    def poll(self, state: CliState, row: dict[str, Any], started: float) -> None:
        """Start the question once the run stayed queued ``NO_CONSUMER_AFTER`` s; say the answer once."""
        if row["status"] != "queued":
            return
        if self._thread.ident is None and time.monotonic() - started >= NO_CONSUMER_AFTER:
            self._thread.start()
        if self.answer and self.answer[0] == 0:
            self.answer[0] = None  # said once
            hint = escape(no_consumer(self.queue, state.app.settings))
            state.err.print(f"[yellow]{hint}[/]; still waiting", highlight=False)


def follow(
    state: CliState, run_id: str, timeout: float | None, *, queue: str | None = None, as_json: bool = False
) -> int:
    """Poll the run's history row until it finishes; show progress while it runs. With ``queue``, a
    run that stays queued is checked for a worker consuming that queue."""
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    bar = _Bar(state, "running")
    check = _ConsumerCheck(state, queue) if queue is not None else None
    try:
        while True:
            row = state.app.store.get_run(run_id)
            if row is None:
                fail(EXIT_FAILED, f"run {run_id} is not in the history database")
            if row["status"] in ("succeeded", "failed", "skipped", "cancelled", "expired"):
                break
            if check is not None:
                check.poll(state, row, started)
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
                if as_json:
                    click.echo(dumps(run_json(row)))
                return EXIT_FAILED
            time.sleep(0.2)
    finally:
        bar.stop()
    _outcome(state, row, as_json)
    if row["status"] == "succeeded":
        return EXIT_OK
    return EXIT_CONFIG if row["error_category"] == "config" else EXIT_FAILED


COMMANDS = (run, trigger)
