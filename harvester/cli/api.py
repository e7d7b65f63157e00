"""``api`` (the HTTP API under uvicorn) and ``flower`` (Celery's monitor on harvester's broker)."""

from __future__ import annotations

import importlib.util

import click

from harvester.cli.context import CliState, fail
from harvester.cli.output import startup_line
from harvester.execution.runner import EXIT_CONFIG

FLOWER_MISSING = "Flower is not installed; it is an optional extra: pip install 'harvester[flower]'"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (non-loopback needs a token).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port to bind.")
@click.option("--loglevel", "-l", default=None, help="Log level [default: HARVESTER_LOG_LEVEL].")
@click.pass_obj
def api(state: CliState, host: str, port: int, loglevel: str | None) -> None:
    """Serve the HTTP API, the dashboard, /health and /metrics (uvicorn).

    Anything but a loopback address (127.0.0.1, ::1, localhost) needs HARVESTER_API_TOKEN, so
    the network never reaches an unauthenticated trigger.
    """
    # imported here: `harvester worker` (which imports this module) must not carry FastAPI into
    # every process it forks
    from harvester.api.security import is_loopback

    if not is_loopback(host) and state.settings.api_token is None:
        fail(
            EXIT_CONFIG,
            f"refusing to serve the API on {host} without a token: set HARVESTER_API_TOKEN "
            "(every route but the public ones then needs it: `Authorization: Bearer <token>` or a "
            "dashboard login), or bind 127.0.0.1",
        )
    import uvicorn

    from harvester.api import create_app

    hv = state.app
    click.echo(startup_line("api", hv.settings), err=True)
    level = (loglevel or hv.settings.log_level).lower()
    # log_config=None: uvicorn keeps harvester's logging (text or JSON lines) instead of its own.
    # One access-log line per request only at debug: an open dashboard refreshes every few seconds.
    uvicorn.run(create_app(hv), host=host, port=port, log_config=None, log_level=level, access_log=level == "debug")


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def flower(state: CliState, args: tuple[str, ...]) -> None:
    """Start Flower (Celery's web monitor) on harvester's Celery app and broker.

    Arguments go to Flower (`harvester flower --port=5555 --basic-auth=user:pass`; `--help` lists
    them). It listens on 127.0.0.1 unless `--address` says otherwise; Flower has no login unless
    you give it one (--basic-auth or --auth). Optional extra: pip install 'harvester[flower]'.
    """
    if importlib.util.find_spec("flower") is None:
        fail(1, FLOWER_MISSING)
    argv = list(args)
    if not any(arg.lstrip("-").startswith("address") for arg in argv):
        argv.insert(0, "--address=127.0.0.1")
    click.echo(startup_line("flower", state.settings), err=True)
    code = state.unchecked_app.celery.start(["flower", *argv])
    raise click.exceptions.Exit(code or 0)


COMMANDS = (api, flower)
