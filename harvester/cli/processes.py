"""``worker``, ``beat``, ``up`` and ``db``: the long-running processes and the schema."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from types import FrameType

import click
from rich.markup import escape

from harvester.cli.alerts import alert_service
from harvester.cli.check_alerts import check_statuses
from harvester.cli.context import CliState, check_schedule, fail
from harvester.cli.output import startup_line
from harvester.collector import Collector
from harvester.dispatch.celery_app import DEFAULT_QUEUE, recovery_interval
from harvester.dispatch.scheduler import ScheduleDispatcher, make_scheduler_class
from harvester.errors import ConfigError
from harvester.schedule.loader import load_schedule


@click.command()
@click.option("--concurrency", "-c", type=click.IntRange(1), help="Worker processes [default: HARVESTER_CONCURRENCY].")
@click.option("--queues", "-Q", default="harvester", show_default=True, help="Comma-separated queues to consume.")
@click.option("--pool", type=click.Choice(["prefork", "threads", "solo"]), default="prefork", show_default=True)
@click.option("--loglevel", "-l", default=None, help="Log level [default: HARVESTER_LOG_LEVEL].")
@click.pass_obj
def worker(state: CliState, concurrency: int | None, queues: str, pool: str, loglevel: str | None) -> None:
    """Start a Celery worker that runs collectors."""
    hv = state.app
    check_schedule(state)
    argv = [
        "worker",
        "--pool",
        pool,
        "--queues",
        queues,
        "--hostname",
        f"harvester-{os.getpid()}@%h",
        "--loglevel",
        loglevel or hv.settings.log_level,
        "--concurrency",
        str(concurrency or hv.settings.concurrency),
    ]
    click.echo(startup_line(f"worker (queues {queues})", hv.settings), err=True)
    hv.celery.worker_main(argv)


@click.command()
@click.option("--loglevel", "-l", default=None, help="Log level [default: HARVESTER_LOG_LEVEL].")
@click.pass_obj
def beat(state: CliState, loglevel: str | None) -> None:
    """Start the scheduler (Celery beat): the schedule file's entries and recovery (lost, overdue runs).

    The file (HARVESTER_SCHEDULE_FILE) is re-read within a second of an edit, or on SIGHUP; a broken
    edit keeps the last good schedule running. In strict mode a bad file stops start-up. A file named
    by HARVESTER_SCHEDULE_FILE must exist; the default schedule.yaml may be absent (a WARNING every
    5 minutes says nothing is scheduled, and the file is picked up once it appears).
    """
    hv = state.app
    hv.settings.data_dir.mkdir(parents=True, exist_ok=True)
    explicit = "schedule_file" in hv.settings.model_fields_set
    if explicit and not hv.settings.schedule_file.exists():
        fail(2, f"HARVESTER_SCHEDULE_FILE names {hv.settings.schedule_file}, which does not exist; nothing started")
    try:
        dispatcher = ScheduleDispatcher(
            hv.registry,
            hv.store,
            hv.settings.schedule_file,
            strict=hv.settings.schedule_strict,
            submit=hv.dispatcher.publish_batch,
            optional=not explicit,
        )
    except ConfigError as exc:
        fail(2, f"the schedule file has problems; nothing started:\n{exc}")
    if dispatcher.missing:
        state.err.print(
            f"no schedule file at {hv.settings.schedule_file} (HARVESTER_SCHEDULE_FILE not set): nothing is "
            "scheduled until it exists; recovery runs"
        )
    alerts = alert_service(hv, lambda: dispatcher.schedule, lambda: check_statuses(hv, dispatcher.schedule))
    click.echo(startup_line("beat", hv.settings), err=True)
    hv.celery.Beat(
        scheduler=make_scheduler_class(dispatcher, hv.recovery.run, recovery_interval(hv.settings), alerts),
        loglevel=loglevel or hv.settings.log_level,
        schedule=str(hv.settings.data_dir.resolve() / "beat-schedule"),
    ).run()


def _spawn(name: str, *args: str) -> subprocess.Popen[bytes]:
    # A session of its own: Ctrl-C reaches only `up`, which then stops each child exactly once.
    return subprocess.Popen([sys.executable, "-m", "harvester", name, *args], start_new_session=True)


def _stop_all(children: list[subprocess.Popen[bytes]], grace: float = 20.0) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@click.command()
@click.option(
    "--no-examples", is_flag=True, help="Do not enqueue one run of each collector whose params all have defaults."
)
@click.option(
    "--api-port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port of the API on 127.0.0.1."
)
@click.option("--no-api", is_flag=True, help="Do not start the HTTP API.")
@click.pass_obj
def up(state: CliState, no_examples: bool, api_port: int, no_api: bool) -> None:
    """One-machine stack: migrations, a worker, the scheduler and the HTTP API on 127.0.0.1, stopped
    together on Ctrl-C.

    With no HARVESTER_* variable set this is the embedded default: SQLite and a file-based
    broker under ./.harvester, no server to install.
    """
    hv = state.unchecked_app
    check_schedule(state)
    if not no_api and not _port_free(api_port):
        fail(2, f"port {api_port} on 127.0.0.1 is in use: choose another with --api-port, or --no-api")
    hv.store.upgrade()  # `up` is the one-machine stack: it migrates whatever database it is given
    state.console.print(escape(startup_line("up", hv.settings)), highlight=False)
    state.console.print(f"collectors: {', '.join(hv.registry.names()) or 'none'}. Ctrl-C stops everything.")
    queues = sorted({DEFAULT_QUEUE, *(cls.queue for cls in hv.registry if cls.queue), *_entry_queues(state)})
    children = [_spawn("worker", "--queues", ",".join(queues)), _spawn("beat")]
    if not no_api:
        children.append(_spawn("api", "--host", "127.0.0.1", "--port", str(api_port)))
        state.console.print(f"dashboard and API: http://127.0.0.1:{api_port}/ (OpenAPI at /docs)")
    stopping = False

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    if not no_examples and len(hv.registry):
        run_ids = hv.submit([hv.request(cls.name, trigger="cli") for cls in hv.registry if _runs_bare(cls)])
        state.console.print(f"enqueued {len(run_ids)} runs; watch them with `harvester runs`")
    code = 0
    while not stopping:
        dead = [c for c in children if c.poll() is not None]
        if dead:
            state.err.print(f"a child process exited with code {dead[0].returncode}; stopping the others")
            code = 1
            break
        time.sleep(0.5)
    state.console.print("stopping worker and scheduler" + ("..." if no_api else ", and the API..."))
    _stop_all(children)
    raise click.exceptions.Exit(code)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no obstacle
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _entry_queues(state: CliState) -> set[str]:
    """Queues named by schedule entries, so `up`'s worker consumes what `up`'s scheduler sends."""
    path = state.settings.schedule_file
    if not path.exists():
        return set()
    loaded = load_schedule(path, state.unchecked_app.registry, strict=False)
    return {entry.queue for entry in loaded.entries if entry.queue}


def _runs_bare(cls: type[Collector]) -> bool:
    """Collectors whose params all have defaults can be started with no input."""
    return all(not f.is_required() for f in cls.Params.model_fields.values())


@click.group()
def db() -> None:
    """The history database schema."""


@db.command()
@click.pass_obj
def upgrade(state: CliState) -> None:
    """Apply Alembic migrations up to the newest."""
    from harvester.history.migrate import current

    hv = state.unchecked_app
    hv.store.upgrade()
    click.echo(f"database at revision {current(hv.store.engine)}")


COMMANDS = (worker, beat, up, db)
