"""Submitter: concurrent triggers share one recording and one publish, and each learns its batch's fate."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest
from sqlalchemy.exc import DataError, OperationalError

from harvester.api.submitter import Submitter
from harvester.execution.dispatcher import DispatchError
from harvester.request import RunRequest


class Recorder:
    """Stands in for ``Harvester.submit``: records each batch it is given; ``gate`` holds the first
    batch until the test opens it; ``fail`` decides, per batch, what it raises."""

    def __init__(self, fail: type[Exception] | None = None, bad: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail = fail
        self.bad = bad

    def __call__(self, requests: Sequence[RunRequest]) -> list[str]:
        ids = [r.collector for r in requests]
        self.batches.append(ids)
        self.gate.wait(10)
        if self.bad is not None and self.bad in ids:
            raise DataError("INSERT INTO runs", {}, ValueError("unsupported Unicode escape sequence"))
        if self.fail is OperationalError:
            raise OperationalError("INSERT INTO runs", {}, ConnectionRefusedError("connection refused"))
        if self.fail is DispatchError:
            raise DispatchError("broker unreachable at redis://127.0.0.1:6390/0: ConnectionRefusedError")
        return [r.run_id for r in requests]


def outcomes(submitter: Submitter, names: list[str]) -> list[str]:
    """Submit one run per name concurrently; each one's outcome: ``ok`` or its error's class name."""

    async def one(name: str) -> str:
        try:
            await submitter.submit(RunRequest(collector=name))
        except Exception as exc:
            return type(exc).__name__
        return "ok"

    async def scenario() -> list[str]:
        return list(await asyncio.gather(*(one(name) for name in names)))

    return asyncio.run(scenario())


def test_triggers_arriving_together_are_recorded_and_sent_as_one_batch():
    recorder = Recorder()
    assert outcomes(Submitter(recorder), ["a", "b", "c"]) == ["ok", "ok", "ok"]
    assert recorder.batches == [["a", "b", "c"]]


def test_triggers_arriving_while_a_batch_is_recorded_go_in_the_next_one():
    recorder = Recorder()
    recorder.gate.clear()
    submitter = Submitter(recorder)

    async def scenario() -> None:
        first = asyncio.ensure_future(submitter.submit(RunRequest(collector="first")))
        while not recorder.batches:  # the first batch is in its thread, held at the gate
            await asyncio.sleep(0.01)
        later = [asyncio.ensure_future(submitter.submit(RunRequest(collector=n))) for n in ("b", "c")]
        await asyncio.sleep(0.05)
        recorder.gate.set()
        await asyncio.gather(first, *later)

    asyncio.run(scenario())
    assert recorder.batches == [["first"], ["b", "c"]]


def test_a_batch_is_never_larger_than_max_batch():
    recorder = Recorder()
    assert outcomes(Submitter(recorder, max_batch=2), ["a", "b", "c", "d", "e"]) == ["ok"] * 5
    assert recorder.batches == [["a", "b"], ["c", "d"], ["e"]]


def test_a_row_the_database_refuses_fails_only_its_own_trigger():
    recorder = Recorder(bad="bad")
    assert outcomes(Submitter(recorder), ["a", "bad", "c"]) == ["ok", "DataError", "ok"]
    assert recorder.batches == [["a", "bad", "c"], ["a"], ["bad"], ["c"]]


def test_an_unreachable_database_fails_the_whole_batch_without_trying_each_run():
    recorder = Recorder(fail=OperationalError)
    assert outcomes(Submitter(recorder), ["a", "b"]) == ["OperationalError", "OperationalError"]
    assert recorder.batches == [["a", "b"]]


def test_a_broker_that_does_not_take_the_batch_is_told_to_each_trigger():
    recorder = Recorder(fail=DispatchError)
    assert outcomes(Submitter(recorder), ["a", "b"]) == ["DispatchError", "DispatchError"]


def test_a_trigger_cancelled_while_waiting_leaves_the_others_answered():
    recorder = Recorder()
    recorder.gate.clear()
    submitter = Submitter(recorder)

    async def scenario() -> None:
        gone = asyncio.ensure_future(submitter.submit(RunRequest(collector="gone")))
        stays = asyncio.ensure_future(submitter.submit(RunRequest(collector="stays")))
        while not recorder.batches:
            await asyncio.sleep(0.01)
        gone.cancel()  # the client went away; its run is recorded all the same
        recorder.gate.set()
        await stays
        with pytest.raises(asyncio.CancelledError):
            await gone

    asyncio.run(scenario())
    assert recorder.batches == [["gone", "stays"]]
