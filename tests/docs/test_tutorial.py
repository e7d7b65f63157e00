"""docs/tutorial.md, word for word: its commands run in an empty folder, in order, and succeed
(or exit with the code the page says), so the tutorial cannot drift from the code.

What the page marks, and how this test reads it:
- a ```console block: each ``$ `` line is a command, run by one bash session (``export`` and
  files carry over); a trailing ``# exit N`` says the exit code it should have (default 0);
  the lines after it are its output: each must appear in what it printed, once run ids, times
  and durations are masked and spaces collapsed (``...`` stands for lines left out);
- ``<!-- file: PATH -->`` right before a fenced block: the block is written to PATH;
- ``<!-- parse-only: why -->`` right before a ```console block: its commands keep running or need
  workers, so they are only resolved against the click CLI (command and options must exist).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
TUTORIAL = DOCS / "tutorial.md"
BLOCK = re.compile(
    r"(?:<!-- (?P<marker>file|parse-only):?\s*(?P<arg>[^>]*?)\s*-->\n)?```(?P<lang>\w*)\n(?P<body>.*?)```", re.S
)
EXPECTED_EXIT = re.compile(r"#\s*exit (\d+)\s*$")
MARK = "@@@tutorial-step-"
VOLATILE = [
    (re.compile(r"\b[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\b"), "<run id>"),
    (re.compile(r"^[0-9a-f]{8}\b"), "<run id>"),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"), "<time>"),
    (re.compile(r"\d+s ago"), "<age>"),
    (re.compile(r"\d+\.\d+s\b"), "<duration>"),
    (re.compile(r"PYTHONPATH=\S+"), "PYTHONPATH=<folder>"),
]


def normal(line: str) -> str:
    for pattern, placeholder in VOLATILE:
        line = pattern.sub(placeholder, line)
    return " ".join(line.split())


@dataclass(frozen=True)
class Step:
    kind: str  # "run" | "parse" | "file"
    text: str  # the command, or the file's content
    path: str = ""
    exit_code: int = 0
    output: tuple[str, ...] = ()


def steps(markdown: str) -> list[Step]:
    found: list[Step] = []
    for block in BLOCK.finditer(markdown):
        if block["marker"] == "file":
            found.append(Step("file", block["body"], path=block["arg"]))
            continue
        if block["lang"] != "console":
            continue
        kind = "parse" if block["marker"] == "parse-only" else "run"
        for chunk in re.split(r"^\$ ", block["body"], flags=re.M)[1:]:
            command, *output = chunk.rstrip("\n").split("\n")
            expected = EXPECTED_EXIT.search(command)
            code = int(expected[1]) if expected else 0
            found.append(Step(kind, command.strip(), exit_code=code, output=tuple(output)))
    return found


def script(all_steps: list[Step]) -> str:
    """One bash script: each command followed by a check of its exit code."""
    lines = ["set -u"]
    for number, step in enumerate(all_steps, start=1):
        if step.kind == "file":
            lines += [f"mkdir -p {shlex.quote(str(Path(step.path).parent))}"]
            lines += [f"cat > {shlex.quote(step.path)} <<'TUTORIAL_EOF'", step.text.rstrip("\n"), "TUTORIAL_EOF"]
        elif step.kind == "run":
            lines += [
                f"echo {MARK}{number}",
                step.text,
                f'rc=$?; if [ "$rc" != {step.exit_code} ]; then '
                f"echo {shlex.quote(f'!!! step {number} exited')} $rc, not {step.exit_code} >&2; exit 99; fi",
            ]
    return "\n".join(lines) + "\n"


def outputs(stdout: str) -> dict[int, list[str]]:
    """What each step printed, by step number, normalised."""
    printed: dict[int, list[str]] = {}
    current: list[str] = []
    for line in stdout.splitlines():
        if line.startswith(MARK):
            current = printed.setdefault(int(line.removeprefix(MARK)), [])
        else:
            current.append(normal(line))
    return printed


def test_the_page_has_the_steps_this_test_expects():
    found = steps(TUTORIAL.read_text())
    commands = [s.text for s in found if s.kind != "file"]
    assert commands[0] == "harvester init heartbeats --collector heartbeat_demo"  # the user path: init, cd, up
    assert commands[1] == "cd heartbeats"
    assert "harvester up" in commands
    assert "harvester info" in commands
    assert any(c.startswith("harvester startcollector pulse_demo") for c in commands)
    assert any(c.startswith("python -m pytest heartbeat_demo") for c in commands)
    assert any(c.startswith("harvester run-scheduled") for c in commands)
    assert {"harvester worker", "harvester beat", "harvester up"} <= set(commands)
    assert sum(s.kind == "file" for s in found) >= 5
    assert any(s.exit_code == 2 for s in found)
    assert not any("PYTHONPATH" in c or "HARVESTER_COLLECTORS" in c for c in commands)  # the project says it


def test_parse_only_commands_exist_with_their_options(harvester_parses):
    parse_only = [s for s in steps(TUTORIAL.read_text()) if s.kind == "parse"]
    assert parse_only
    for step in parse_only:
        argv = shlex.split(step.text)
        assert argv[0] == "harvester", step.text
        harvester_parses(argv[1:])


@pytest.mark.timeout(600)  # some 40 commands, each a Python start; a loaded machine needs the margin
def test_following_the_tutorial_word_for_word_works(tmp_path):
    folder = tmp_path / "team-collectors"
    folder.mkdir()
    all_steps = steps(TUTORIAL.read_text())
    (tmp_path / "tutorial.sh").write_text(script(all_steps))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARVESTER_", "PYTHONPATH", "VIRTUAL_ENV"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "200"  # tables as wide as the page shows them
    done = subprocess.run(
        ["bash", str(tmp_path / "tutorial.sh")],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout[-6000:]}\n{done.stderr[-4000:]}"
    printed = outputs(done.stdout)
    for number, step in enumerate(all_steps, start=1):
        for line in step.output:
            if line.strip() and line.strip() != "...":
                assert normal(line) in printed[number], f"step {number} `{step.text}` did not print:\n{line}"
    assert (folder / "heartbeats" / "COLLECTORS.md").read_text().startswith("# Collectors")
    assert "1 succeeded, 0 failed" in done.stdout
