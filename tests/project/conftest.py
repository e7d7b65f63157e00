"""Fixtures of the project tests: a project folder, and a clean import state after each test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _restore_imports() -> Iterator[None]:
    """A project puts its root on sys.path and imports its collectors: undo both, so the next test's
    project of the same collector name imports its own."""
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project: a pyproject.toml with a [tool.harvester] table, in ``tmp_path/proj``."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "proj"\n\n[tool.harvester]\ncollectors = []\n')
    return root
