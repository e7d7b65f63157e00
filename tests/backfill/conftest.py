"""Backfill tests: the partitioned collectors of backfill_collectors.py, importable here and by the
worker and CLI subprocesses of a stack."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "api"))  # api_support
sys.path.insert(0, str(HERE.parent / "docs"))  # test_tutorial: the reader of a page's console blocks


@pytest.fixture
def backfill_stack(stack: object) -> object:
    """The ``stack`` deployment (embedded, and Redis + PostgreSQL) whose processes also know the
    collectors of backfill_collectors.py (the test process only reads their history)."""
    env = stack.env  # type: ignore[attr-defined]
    env["HARVESTER_COLLECTORS"] += ",backfill_collectors"
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env["PYTHONPATH"]])
    return stack
