"""A secret given in schedule.yaml as ``${ENV}`` and as ``${file:...}`` runs on a real worker with the
real values, and the values appear nowhere else: not in task messages (the Redis list, the embedded
broker's files, their ``argsrepr``), history, tracebacks, worker logs, any listing, the API or the
dashboard. Every byte harvester stored is searched."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import anyio
import httpx
import pytest
from stack import Stack

from harvester.api import create_app
from harvester.history.models import metadata
from harvester.schedule.loader import load_schedule

pytestmark = [pytest.mark.slow, pytest.mark.services]

SCHEDULE = """
groups:
  secure:
    tasks:
      - collector: secret_probe
        schedule: daily
        params:
          api_key: '${SECRET_PROBE_KEY}'
          signing_key: '${file:SIGNING_FILE}'
          out: OUT
"""


def broker_messages(stack: Stack) -> list[dict]:
    """The messages waiting in the broker, as kombu stored them (headers and body)."""
    if stack.settings.embedded:
        folder = stack.settings.data_dir / "broker" / "queue"
        files = sorted(p for p in folder.iterdir() if p.name.endswith(".msg"))
        for path in files:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path  # readable by the owner only
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        return [json.loads(path.read_text()) for path in files]
    import redis

    client = redis.Redis.from_url(stack.settings.broker_url)
    return [json.loads(raw) for raw in client.lrange("harvester", 0, -1)]


def stored_bytes(stack: Stack) -> bytes:
    """Everything harvester keeps: every file of its data folder, every key of its Redis database."""
    found = b""
    for root, _, files in os.walk(stack.settings.data_dir):
        for name in files:
            found += (Path(root) / name).read_bytes()
    if stack.settings.database_url:  # the PostgreSQL history, every table
        with stack.hv.store.engine.connect() as conn:
            for table in metadata.sorted_tables:
                found += repr(conn.execute(table.select()).all()).encode()
    if not stack.settings.embedded:
        import redis

        client = redis.Redis.from_url(stack.settings.broker_url)
        for key in client.keys("*"):
            found += key + (client.dump(key) or b"")
    return found


async def fetch(app: object, paths: tuple[str, ...]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        return [await client.get(path) for path in paths]


def cli(stack: Stack, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "harvester", *args],
        env={**stack.env, "COLUMNS": "200"},
        cwd=stack.folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_referenced_secrets_reach_the_collector_and_nothing_else(stack, tmp_path):
    api_key, signing_key = f"envkey-{uuid.uuid4().hex}", f"filekey-{uuid.uuid4().hex}"
    signing = tmp_path / "secrets" / "signing"
    signing.parent.mkdir()
    signing.write_text(signing_key + "\n")
    signing.chmod(0o600)
    out = tmp_path / "seen.txt"
    stack.env["SECRET_PROBE_KEY"] = api_key  # the worker's environment only
    stack.settings.schedule_file.write_text(
        textwrap.dedent(SCHEDULE).replace("SIGNING_FILE", str(signing)).replace("OUT", str(out))
    )

    # what beat sends for the entry's occurrence, sent with no worker up: the message waits
    (entry,) = load_schedule(stack.settings.schedule_file, stack.hv.registry).entries
    (run_id,) = stack.hv.submit(stack.hv.entry_requests(entry))
    (message,) = broker_messages(stack)
    body = json.loads(base64.b64decode(message["body"]))
    params = body[0][0]["params"]  # Celery's protocol 2: [args, kwargs, embed]
    assert params["api_key"] == "${SECRET_PROBE_KEY}"
    assert params["signing_key"] == f"${{file:{signing}}}"
    assert message["headers"]["argsrepr"] == f"secret_probe run {run_id}"  # what Flower shows
    assert message["headers"]["kwargsrepr"] == "{}"
    assert api_key not in json.dumps(message)
    assert signing_key not in json.dumps(message)

    stack.worker()
    run = stack.wait(run_id, timeout=60)
    assert run["status"] == "succeeded", run
    assert out.read_text() == f"{api_key}\n{signing_key}"  # the collector got the real values
    assert run["attempt"] == 2  # the first attempt failed with both values in its error, and was retried
    assert run["params"]["api_key"] == "${SECRET_PROBE_KEY}"
    (failed, _) = stack.hv.store.attempts(run_id)
    assert "refused: key ********** signed **********" in failed["error_message"]
    assert "**********" in failed["error_traceback"]
    logged = [line["message"] for line in stack.hv.store.run_logs(run_id)]
    assert "signing with **********" in logged

    shown = [
        cli(stack, "list"),
        cli(stack, "list", "--json"),
        cli(stack, "list", "--format", "markdown"),
        cli(stack, "schedule", "show"),
        cli(stack, "schedule", "check"),
        cli(stack, "runs"),
        cli(stack, "runs", "show", run_id),
        cli(stack, "runs", "show", run_id, "--json"),
    ]
    assert "${SECRET_PROBE_KEY}" in shown[1]
    paths = ("/api/v1/collectors", "/api/v1/runs", f"/api/v1/runs/{run_id}", "/", "/runs", f"/runs/{run_id}")
    for path, answer in zip(paths, anyio.run(fetch, create_app(stack.hv), paths), strict=True):
        assert answer.status_code == 200, path
        shown.append(answer.text)
    shown += [worker.output() for worker in stack.workers]
    for value in (api_key, signing_key):
        assert all(value not in text for text in shown)
        assert value.encode() not in stored_bytes(stack)


def test_an_unresolvable_reference_fails_the_run_as_config_naming_it(stack):
    (run_id,) = stack.hv.submit(
        [stack.hv.request("secret_probe", {"api_key": "${SECRET_PROBE_UNSET}", "signing_key": "x", "out": "/nope"})]
    )
    stack.worker()
    run = stack.wait(run_id, timeout=60)
    assert (run["status"], run["attempt"], run["error_category"]) == ("failed", 1, "config")
    assert "${SECRET_PROBE_UNSET}: environment variable SECRET_PROBE_UNSET is not set" in run["error_message"]
