"""No silent split brain: `trigger --wait` with the only worker in another folder (another data
folder, so another embedded broker) says so within 10 s, keeps waiting, and finishes once a worker
of its own folder starts."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from stack import Stack

NO_CONSUMER = "no worker consumes queue 'harvester'"


def _lines(stream: object, into: queue.Queue[tuple[float, str]]) -> None:
    for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
        into.put((time.monotonic(), raw.decode(errors="replace")))


def _until(lines: queue.Queue[tuple[float, str]], text: str, timeout: float) -> tuple[float, list[str]]:
    """When the first line holding ``text`` arrived, and every line read until then."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            at, line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if text in line:
            return at, seen
    raise AssertionError(f"no line with {text!r} within {timeout}s:\n{''.join(seen)}")


@pytest.mark.slow
def test_trigger_wait_says_no_worker_consumes_the_queue_within_10_s(tmp_path: Path) -> None:
    here, elsewhere = Stack(tmp_path / "here"), Stack(tmp_path / "elsewhere")
    try:
        started = elsewhere.worker()  # the worker a user started from another folder
        said = f"harvester worker (queues harvester) uses data folder {elsewhere.settings.data_dir.resolve()}"
        assert said in started.output()  # its first line says where it looks
        token = uuid.uuid4().hex
        proc = subprocess.Popen(
            [sys.executable, "-m", "harvester", "trigger", "ok", "--token", token, "--wait", "--timeout", "120"],
            env={**here.env, "COLUMNS": "300"},  # one line per message, whatever the terminal
            cwd=here.folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        lines: queue.Queue[tuple[float, str]] = queue.Queue()
        threading.Thread(target=_lines, args=(proc.stderr, lines), daemon=True).start()
        try:
            queued_at, _ = _until(lines, "Collection task queued for ok", 60)
            said_at, seen = _until(lines, NO_CONSUMER, 30)
            hint = seen[-1]
            assert said_at - queued_at < 10, f"said {said_at - queued_at:.1f}s after queueing"
            print(f"no-consumer hint {said_at - queued_at:.1f}s after the run was queued")
            assert "harvester worker --queues harvester" in hint
            assert f"data folder {here.settings.data_dir.resolve()}" in hint  # where this process looks
            assert "still waiting" in hint
            assert proc.poll() is None  # it keeps waiting...
            here.worker()
            assert proc.stdout is not None
            out = proc.stdout.read().decode()  # ...and ends once a worker of its own folder runs it
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, "".join(line for _, line in list(lines.queue))
        assert "ok succeeded" in out
    finally:
        here.close()
        elsewhere.close()


def test_consumers_is_none_when_the_broker_cannot_be_asked(tmp_path: Path) -> None:
    """A broker that is down is no answer (None), not "no worker" (0): nothing is claimed then."""
    from harvester import Harvester, Settings

    hv = Harvester(Settings(data_dir=tmp_path, collectors=[], broker_url="redis://127.0.0.1:1/0"))
    try:
        assert hv.dispatcher.consumers("harvester", timeout=0.5) is None
    finally:
        hv.close()
