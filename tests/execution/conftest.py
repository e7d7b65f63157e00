"""A Harvester on a tmp SQLite history with the sample collectors, retries 10 ms apart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harvester import Harvester, Settings


@pytest.fixture
def hv(tmp_path: Path) -> Iterator[Harvester]:
    made = Harvester(Settings(data_dir=tmp_path / "data", collectors=["sample_collectors"], retry_delay=0.01))
    made.store.upgrade()
    yield made
    made.close()
