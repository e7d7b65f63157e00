"""docs/backfill.md, word for word: its collector on a real worker, its commands run in order
with the output the page shows (the tutorial's reader of ```console blocks, tests/docs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from stack import Worker  # tests/support
from test_tutorial import DOCS, normal, outputs, script, steps  # tests/docs

pytestmark = [pytest.mark.slow]

PAGE = DOCS / "backfill.md"


def test_the_backfill_page_works_as_written(tmp_path):
    folder = tmp_path / "shop"
    folder.mkdir()
    all_steps = steps(PAGE.read_text())
    files = [s for s in all_steps if s.kind == "file"]
    assert [s.path for s in files] == ["sales.py"]
    (folder / "sales.py").write_text(files[0].text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARVESTER_", "PYTHONPATH", "VIRTUAL_ENV"))}
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "COLUMNS": "200",
            "PWD": str(folder),
        }
    )
    worker = Worker({**env, "HARVESTER_COLLECTORS": "sales", "PYTHONPATH": str(folder)}, tmp_path / "worker.log")
    try:
        worker.wait_ready(timeout=60)
        (tmp_path / "page.sh").write_text(script(all_steps))
        done = subprocess.run(
            ["bash", str(tmp_path / "page.sh")], cwd=folder, env=env, capture_output=True, text=True, timeout=170
        )
    finally:
        worker.stop()
    assert done.returncode == 0, f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}\n{worker.output()[-3000:]}"
    printed = outputs(done.stdout)
    for number, step in enumerate(all_steps, start=1):
        for line in step.output:
            if line.strip() and line.strip() != "...":
                assert normal(line) in printed[number], f"step {number} `{step.text}` did not print:\n{line}"
