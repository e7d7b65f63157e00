"""docs/rate_limits.md, word for word: its collectors written out, its commands run in order with
the output the page shows (the tutorial's reader of ```console blocks, tests/docs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_tutorial import DOCS, normal, outputs, script, steps  # tests/docs

from harvester.errors import ConfigError
from harvester.ratelimit.limiter import declared_limits

PAGE = DOCS / "rate_limits.md"


def test_the_rate_limits_page_works_as_written(tmp_path):
    all_steps = steps(PAGE.read_text())
    files = [s for s in all_steps if s.kind == "file"]
    assert [s.path for s in files] == ["forge.py"]
    (tmp_path / "forge.py").write_text(files[0].text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARVESTER_", "PYTHONPATH", "VIRTUAL_ENV"))}
    env.update({"PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", "COLUMNS": "200"})
    (tmp_path / "page.sh").write_text(script(all_steps))
    done = subprocess.run(
        ["bash", str(tmp_path / "page.sh")], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    printed = outputs(done.stdout)
    for number, step in enumerate(all_steps, start=1):
        for line in step.output:
            if line.strip() and line.strip() != "...":
                assert normal(line) in printed[number], f"step {number} `{step.text}` did not print:\n{line}"


def test_the_parse_error_the_page_quotes():
    with pytest.raises(ConfigError) as caught:
        declared_limits("ForgeCollector", {"forge": "5/sec"})
    message = " ".join(str(caught.value).split())
    quoted = " ".join(PAGE.read_text().split())
    assert f"`{message}`" in quoted
