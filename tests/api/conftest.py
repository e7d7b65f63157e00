"""An app per test on a tmp SQLite history and a tmp embedded broker (publishing stays in tmp_path),
driven by httpx through its ASGI transport."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import start_blocking_portal
from fastapi import FastAPI

from harvester import Harvester, Settings
from harvester.api import create_app


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
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.portal.call(lambda: self.http.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self.portal.call(self.http.aclose)
        self._stack.close()


def build(tmp_path: Path, **overrides: Any) -> Harvester:
    app = Harvester(make_settings(tmp_path, **overrides))
    app.store.upgrade()
    return app


@pytest.fixture
def hv(tmp_path: Path) -> Iterator[Harvester]:
    app = build(tmp_path)
    yield app
    app.close()


@pytest.fixture
def client(hv: Harvester) -> Iterator[Client]:
    made = Client(create_app(hv))
    yield made
    made.close()
