"""Schemathesis against the real app (tmp SQLite history, tmp embedded broker): no input the schema
allows, or breaks, makes it answer 5xx or off-schema, with HARVESTER_API_TOKEN set (the header given;
a missing or wrong token is 401) and unset (no header). Bounded and seeded, so CI runs the same
cases.

The app is served by uvicorn in a thread of this process and ``schemathesis run`` drives it over
HTTP: the CLI runs every phase (examples, coverage, fuzzing) and every check.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from api_support import build

from harvester import Collector
from harvester.api import create_app

SCHEDULE = "groups:\n  main:\n    tasks:\n      - collector: ok\n        schedule: every 15m\n"


class Counting:
    """Counts the requests that reach the app: the run must stay bounded."""

    def __init__(self, app):
        self.app = app
        self.requests = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            self.requests += 1
        await self.app(scope, receive, send)


TOKEN = "schemathesis-token"


@pytest.fixture(params=[TOKEN, None], ids=["token-set", "token-unset"])
def served(request, tmp_path, monkeypatch):
    (tmp_path / "schedule.yaml").write_text(SCHEDULE)
    # Triggers publish to the tmp embedded broker: files under tmp_path, no live broker touched.
    hv = build(tmp_path, api_sync_timeout=0.05, health_timeout=0.5, api_token=request.param)
    # A worker answers /health's ping, so a 503 there would be a real finding, not "no workers".
    monkeypatch.setattr(hv.celery.control, "ping", lambda **kwargs: [{"harvester-1@host": {"ok": "pong"}}])
    monkeypatch.setattr(Collector, "check", lambda self: None)  # and /health?checks=collectors' probes pass
    hv.submit([hv.request("ok", {"value": 1}, trigger="api")])
    app = Counting(create_app(hv))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", app, request.param
    server.should_exit = True
    thread.join(timeout=10)
    hv.close()


@pytest.mark.slow
def test_no_input_breaks_the_api(served, tmp_path):
    url, app, token = served
    header = [f"--header=Authorization: Bearer {token}"] if token else []
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{url}/openapi.json",
            "--checks=all",
            "--phases=examples,coverage,fuzzing",
            "--max-examples=25",
            "--seed=20260105",
            "--generation-database=none",
            "--workers=1",
            "--no-color",
            "--request-timeout=10",
            *header,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
    assert 100 < app.requests < 2000, app.requests
