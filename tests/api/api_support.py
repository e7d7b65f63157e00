"""Helpers of the API tests: settings on tmp paths, a synchronous httpx client over ASGI, and an
in-process stand-in for the broker."""

from __future__ import annotations

import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from anyio.from_thread import start_blocking_portal
from fastapi import FastAPI

from harvester import Harvester, Settings


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "collectors": ["sample_collectors"],
        "schedule_file": tmp_path / "schedule.yaml",
        "health_timeout": 2.0,
        "api_sync_timeout": 0.3,
    }
    values.update(overrides)
    return Settings(**values)


class Client:
    """A synchronous face on ``httpx.AsyncClient`` + ``ASGITransport``: the app runs on an event
    loop in a portal thread, as under uvicorn."""

    def __init__(self, app: FastAPI) -> None:
        self._stack = ExitStack()
        self.portal = self._stack.enter_context(start_blocking_portal())
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.portal.call(lambda: self.http.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self.portal.call(self.http.aclose)
        self._stack.close()


def get_once(hv: Harvester, url: str) -> httpx.Response:
    """One GET against a fresh app of ``hv``; closes the client and ``hv`` after it."""
    from harvester.api import create_app

    client = Client(create_app(hv))
    try:
        return client.get(url)
    finally:
        client.close()
        hv.close()


def build(tmp_path: Path, **overrides: Any) -> Harvester:
    app = Harvester(make_settings(tmp_path, **overrides))
    app.store.upgrade()
    return app


class InlineWorkers:
    """Stands in for the broker: ``submit()`` still records the runs; their deliveries either wait
    (``hold``, the default: runs stay queued) or run once each in a thread, through the runner a
    worker uses (``run``)."""

    def __init__(self, hv: Harvester) -> None:
        self.hv = hv
        self.mode = "hold"
        self.sent: list[Any] = []
        self.threads: list[threading.Thread] = []

    def publish(self, requests: Any, *, countdown: float | None = None) -> None:
        for request in requests:
            self.sent.append(request)
            if self.mode == "run" and not countdown:  # a retry's later delivery is only recorded
                thread = threading.Thread(target=self.hv.runner.execute, args=(request,))
                thread.start()
                self.threads.append(thread)

    def publish_gather(self, parent: Any) -> None:
        self.sent.append(parent)

    def queue_of(self, request: Any) -> str:
        return "harvester"

    def consumers(self, queue: str) -> int | None:
        """These threads are the workers (held or not, they consume every queue)."""
        return 1

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=30)


def login(client: Client, token: str) -> str:
    """Log in through the form as a browser does; returns the session cookie's value and leaves the
    client's cookie jar empty, so each request names the cookies it sends."""
    import re

    form = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf is not None, form.text
    answer = client.post("/login", data={"token": token, "csrf_token": csrf.group(1), "next": "/"})
    assert answer.status_code == 303, answer.text
    session = answer.cookies["harvester_session"]
    client.http.cookies.clear()
    return session
