"""Schedule tests: a registry of the collectors in schedule_collectors.py and a file writer."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from harvester.registry import Registry

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))


@pytest.fixture
def registry() -> Registry:
    import schedule_collectors

    made = Registry()
    made.add_module(schedule_collectors)
    return made


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str], Path]:
    """Write dedented YAML to schedule.yaml in the test's folder."""

    def _write(text: str, name: str = "schedule.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write
