"""An app per test on a tmp SQLite history and a tmp embedded broker (publishing stays in tmp_path),
driven by httpx through its ASGI transport."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from api_support import Client, InlineWorkers, build

from harvester import Harvester
from harvester.api import create_app


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


@pytest.fixture
def workers(hv: Harvester, monkeypatch: pytest.MonkeyPatch) -> Iterator[InlineWorkers]:
    inline = InlineWorkers(hv)
    monkeypatch.setitem(hv.__dict__, "dispatcher", inline)  # the broker: before the runner is built
    yield inline
    inline.join()
